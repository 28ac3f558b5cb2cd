import test from 'ava';
import { applyPatch, jsonPatch, patchTypes, strategicMergePatch } from './patch.js';

test('strategic merge patch merges keyed lists element-wise and finalizers as a set', (t) => {
  const pod = {
    metadata: { finalizers: ['a'], ownerReferences: [{ uid: '1', name: 'x' }] },
    spec: { containers: [{ name: 'main', image: 'old', env: [{ name: 'A', value: '1' }] }, { name: 'side', image: 's' }] },
  };
  const patched = strategicMergePatch(pod, {
    metadata: { finalizers: ['b', 'a'] },
    spec: { containers: [{ name: 'main', image: 'new', env: [{ name: 'B', value: '2' }] }, { name: 'side', $patch: 'delete' }] },
  });
  t.deepEqual(patched, {
    metadata: { finalizers: ['a', 'b'], ownerReferences: [{ uid: '1', name: 'x' }] },
    spec: { containers: [{ name: 'main', image: 'new', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] },
  });
  t.deepEqual(applyPatch(patchTypes.merge, pod, { metadata: { finalizers: ['b'] } }), { ...pod, metadata: { ...pod.metadata, finalizers: ['b'] } });
});

test('JSON patch handles pointers with escapes, array append and move; errors carry API codes', (t) => {
  const doc = { metadata: { annotations: { 'a/b': '1' } }, list: [1] };
  t.deepEqual(jsonPatch(doc, [
    { op: 'add', path: '/list/-', value: 2 },
    { op: 'move', from: '/metadata/annotations/a~1b', path: '/metadata/annotations/c' },
  ]), { metadata: { annotations: { c: '1' } }, list: [1, 2] });
  t.is(t.throws(() => jsonPatch(doc, [{ op: 'remove', path: '/nope/x' }]))!.message.includes('does not exist'), true);
  t.like(t.throws(() => jsonPatch(doc, { op: 'add' })), { code: 400 });
  t.like(t.throws(() => applyPatch('application/apply-patch+yaml', doc, {})), { code: 415 });
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PatchStrategy, setHeaderOptions, type V1OwnerReference } from '@kubernetes/client-node';
import { Readable } from 'node:stream';
import test from 'ava';
import type { LogReadOptions } from './container-log.js';
import { ApiError } from './errors.js';
import { clusterFixture, failure, jobManifest, podManifest } from './fixture.js';

const run = promisify(execFile);
const namespace = 'default';

test('create, get, list, replace and delete a pod with server-assigned metadata and defaults', async (t) => {
  const { core } = await clusterFixture(t);
  const created = await core.createNamespacedPod({ namespace, body: podManifest('p1', { app: 'a' }) });
  t.is(created.kind, 'Pod');
  t.regex(created.metadata!.uid!, /^[0-9a-f-]{36}$/);
  t.regex(String(created.metadata!.resourceVersion), /^\d+$/);
  t.is(created.status?.phase, 'Pending');
  t.is(created.spec!.containers[0]!.imagePullPolicy, 'IfNotPresent');
  const rawCreation = (await core.readNamespacedPod({ name: 'p1', namespace }, setHeaderOptions('Accept', 'application/json')));
  t.truthy(rawCreation.metadata!.creationTimestamp);

  const list = await core.listNamespacedPod({ namespace });
  t.deepEqual(list.items.map((p) => p.metadata!.name), ['p1']);
  t.truthy(list.metadata!.resourceVersion);

  created.metadata!.labels = { app: 'b' };
  const replaced = await core.replaceNamespacedPod({ name: 'p1', namespace, body: created });
  t.is(replaced.metadata!.labels!['app'], 'b');
  t.not(replaced.metadata!.resourceVersion, created.metadata!.resourceVersion);

  await core.deleteNamespacedPod({ name: 'p1', namespace });
  const missing = await failure(core.readNamespacedPod({ name: 'p1', namespace }));
  t.is(missing.code, 404);
  t.like(missing.status, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "p1" not found', details: { name: 'p1', kind: 'pods' } });
});

test('creationTimestamp is RFC 3339 with second precision', async (t) => {
  const { cluster } = await clusterFixture(t);
  const response = await fetch(`${cluster.url}/api/v1/namespaces/default/configmaps`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ metadata: { name: 'c' }, data: { a: 'b' } }),
  });
  t.is(response.status, 201);
  const body = await response.json() as { metadata: { creationTimestamp: string } };
  t.regex(body.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('409 AlreadyExists on a duplicate create, 409 Conflict on a stale replace', async (t) => {
  const { core } = await clusterFixture(t);
  const first = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'c' }, data: { v: '1' } } });
  const dup = await failure(core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'c' } } }));
  t.like(dup, { code: 409, status: { reason: 'AlreadyExists', message: 'configmaps "c" already exists' } });

  await core.replaceNamespacedConfigMap({ name: 'c', namespace, body: { ...first, data: { v: '2' } } });
  const stale = await failure(core.replaceNamespacedConfigMap({ name: 'c', namespace, body: { ...first, data: { v: '3' } } }));
  t.is(stale.code, 409);
  t.is(stale.status.reason, 'Conflict');
  t.regex(stale.status.message, /the object has been modified/);
  t.is((await core.readNamespacedConfigMap({ name: 'c', namespace })).data!['v'], '2');
});

test('422 Invalid names the offending fields; 404 for a missing namespace; 400 for bad base64 and malformed JSON', async (t) => {
  const { core, batch, cluster } = await clusterFixture(t);
  const badName = await failure(core.createNamespacedPod({ namespace, body: podManifest('Bad_Name') }));
  t.like(badName, { code: 422, status: { reason: 'Invalid' } });
  t.deepEqual(badName.status.details!.causes!.map((c) => c.field), ['metadata.name']);

  const noImage = await failure(core.createNamespacedPod({ namespace, body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } } }));
  t.deepEqual(noImage.status.details!.causes!.map((c) => c.field), ['spec.containers[0].image']);

  const badLabel = await failure(core.createNamespacedPod({ namespace, body: podManifest('p', { 'a b': 'c' }) }));
  t.is(badLabel.code, 422);

  const noTemplate = await failure(batch.createNamespacedJob({ namespace, body: { metadata: { name: 'j' }, spec: {} as never } }));
  t.deepEqual(noTemplate.status.details!.causes!.map((c) => c.field), ['spec.template.spec.containers', 'spec.template.spec.restartPolicy']);

  const alwaysRestart = jobManifest('j');
  alwaysRestart.spec.template.spec.restartPolicy = 'Always';
  t.is((await failure(batch.createNamespacedJob({ namespace, body: alwaysRestart }))).code, 422);

  const longName = await failure(batch.createNamespacedJob({ namespace, body: jobManifest('j'.repeat(64)) }));
  t.is(longName.code, 422, 'a Job name longer than 63 characters cannot be a label value');

  const missingNs = await failure(core.createNamespacedSecret({ namespace: 'nope', body: { metadata: { name: 's' } } }));
  t.like(missingNs, { code: 404, status: { message: 'namespaces "nope" not found' } });

  const badBase64 = await failure(core.createNamespacedSecret({ namespace, body: { metadata: { name: 's' }, data: { k: 'not base64!' } } }));
  t.is(badBase64.code, 400);

  const malformed = await fetch(`${cluster.url}/api/v1/namespaces/default/pods`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' });
  t.is(malformed.status, 400);
  t.like(await malformed.json(), { kind: 'Status', reason: 'BadRequest' });
});

test('generateName appends five random characters and retries on a collision', async (t) => {
  const { core } = await clusterFixture(t);
  const names = await Promise.all([1, 2, 3].map(() => core.createNamespacedSecret({ namespace, body: { metadata: { generateName: 'run-' }, stringData: { a: 'b' } } })));
  for (const s of names) t.regex(s.metadata!.name!, /^run-[a-z0-9]{5}$/);
  t.is(new Set(names.map((s) => s.metadata!.name)).size, 3);
  t.is(names[0]!.data!['a'], Buffer.from('b').toString('base64'), 'stringData is folded into data');
});

test('label and field selectors, namespaced and across namespaces', async (t) => {
  const { core } = await clusterFixture(t);
  await core.createNamespace({ body: { metadata: { name: 'other' } } });
  await core.createNamespacedPod({ namespace, body: podManifest('a', { app: 'x', tier: 'web' }) });
  await core.createNamespacedPod({ namespace, body: podManifest('b', { app: 'y' }) });
  await core.createNamespacedPod({ namespace: 'other', body: podManifest('c', { app: 'x' }) });
  const names = async (labelSelector?: string, fieldSelector?: string) =>
    (await core.listPodForAllNamespaces({ ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) })).items.map((p) => p.metadata!.name).sort();
  t.deepEqual(await names('app=x'), ['a', 'c']);
  t.deepEqual(await names('app==x,tier'), ['a']);
  t.deepEqual(await names('app!=x'), ['b']);
  t.deepEqual(await names('app in (x, y),!tier'), ['b', 'c']);
  t.deepEqual(await names('app notin (x)'), ['b']);
  t.deepEqual(await names(undefined, 'metadata.namespace=other'), ['c']);
  t.deepEqual(await names(undefined, 'metadata.name!=a,status.phase=Pending'), ['b', 'c']);
  t.deepEqual((await core.listNamespacedPod({ namespace, labelSelector: 'app=x' })).items.map((p) => p.metadata!.name), ['a']);
  t.is((await failure(core.listNamespacedPod({ namespace, labelSelector: 'app in x' }))).code, 400);
  t.is((await failure(core.listNamespacedPod({ namespace, fieldSelector: 'spec.image=x' }))).code, 400);
});

test('merge, strategic merge and JSON patch; job generation bumps only on spec changes', async (t) => {
  const { core, batch } = await clusterFixture(t);
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'c', labels: { a: '1', b: '2' } }, data: { x: '1' } } });
  const merged = await core.patchNamespacedConfigMap(
    { name: 'c', namespace, body: { metadata: { labels: { a: null, c: '3' } }, data: { y: '2' } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  t.deepEqual(merged.metadata!.labels, { b: '2', c: '3' });
  t.deepEqual(merged.data, { x: '1', y: '2' });

  const patched = await core.patchNamespacedConfigMap({
    name: 'c', namespace,
    body: [{ op: 'test', path: '/data/x', value: '1' }, { op: 'replace', path: '/data/x', value: '9' }, { op: 'remove', path: '/data/y' }],
  }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  t.deepEqual(patched.data, { x: '9' });
  const failedTest = await failure(core.patchNamespacedConfigMap({ name: 'c', namespace, body: [{ op: 'test', path: '/data/x', value: '1' }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)));
  t.is(failedTest.code, 422);

  const stalePatch = await failure(core.patchNamespacedConfigMap(
    { name: 'c', namespace, body: { metadata: { resourceVersion: merged.metadata!.resourceVersion }, data: { z: '1' } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  ));
  t.like(stalePatch, { code: 409, status: { reason: 'Conflict' } });

  const job = await batch.createNamespacedJob({ namespace, body: jobManifest('j') });
  t.is(job.metadata!.generation, 1);
  t.is(job.spec!.selector!.matchLabels!['batch.kubernetes.io/controller-uid'], job.metadata!.uid);
  const labelled = await batch.patchNamespacedJob({ name: 'j', namespace, body: { metadata: { labels: { x: 'y' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
  t.is(labelled.metadata!.generation, 1);
  const resized = await batch.patchNamespacedJob({ name: 'j', namespace, body: { spec: { parallelism: 2, suspend: true } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
  t.is(resized.metadata!.generation, 2);
  const immutable = await failure(batch.patchNamespacedJob({ name: 'j', namespace, body: { spec: { template: { spec: { containers: [{ name: 'main', image: 'other' }] } } } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)));
  t.like(immutable, { code: 422, status: { reason: 'Invalid' } });
});

test('the status subresource changes only status; the main resource keeps it', async (t) => {
  const { batch } = await clusterFixture(t);
  await batch.createNamespacedJob({ namespace, body: jobManifest('j') });
  const withStatus = await batch.patchNamespacedJobStatus({ name: 'j', namespace, body: { status: { active: 1 }, spec: { parallelism: 5 } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  t.is(withStatus.status!.active, 1);
  t.is(withStatus.spec!.parallelism, 1);
  const mainPatch = await batch.patchNamespacedJob({ name: 'j', namespace, body: { status: { active: 7 } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  t.is(mainPatch.status!.active, 1);
});

function ownedBy(kind: string, apiVersion: string, obj: { metadata?: { name?: string; uid?: string } }): V1OwnerReference[] {
  return [{ apiVersion, kind, name: obj.metadata!.name!, uid: obj.metadata!.uid!, controller: true, blockOwnerDeletion: true }];
}

test('background deletion removes the owner, then its dependents (uid-checked)', async (t) => {
  const { core, batch } = await clusterFixture(t);
  const job = await batch.createNamespacedJob({ namespace, body: jobManifest('j') });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'owned', ownerReferences: ownedBy('Job', 'batch/v1', job) } } });
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'stale-uid', ownerReferences: [{ ...ownedBy('Job', 'batch/v1', job)[0]!, uid: '00000000-0000-0000-0000-000000000000' }] } } });
  const names = async () => (await core.listNamespacedSecret({ namespace })).items.map((s) => s.metadata!.name);
  t.deepEqual(await names(), ['owned'], 'a dependent whose owner uid does not exist is collected at once');

  await batch.deleteNamespacedJob({ name: 'j', namespace, propagationPolicy: 'Background' });
  t.deepEqual(await names(), []);
});

test('jobs default to orphaning their dependents; Orphan removes the ownerReference', async (t) => {
  const { core, batch } = await clusterFixture(t);
  const job = await batch.createNamespacedJob({ namespace, body: jobManifest('j') });
  await core.createNamespacedPod({ namespace, body: { ...podManifest('p'), metadata: { name: 'p', ownerReferences: ownedBy('Job', 'batch/v1', job) } } });
  await batch.deleteNamespacedJob({ name: 'j', namespace });
  const pod = await core.readNamespacedPod({ name: 'p', namespace });
  t.is(pod.metadata!.ownerReferences, undefined);
});

test('foreground deletion keeps the owner with a deletionTimestamp until finalizer-held dependents are gone', async (t) => {
  const { core, batch } = await clusterFixture(t);
  const job = await batch.createNamespacedJob({ namespace, body: jobManifest('j') });
  await core.createNamespacedPod({
    namespace,
    body: { ...podManifest('p'), metadata: { name: 'p', finalizers: ['example.com/hold'], ownerReferences: ownedBy('Job', 'batch/v1', job) } },
  });
  await batch.deleteNamespacedJob({ name: 'j', namespace, propagationPolicy: 'Foreground' });
  const deleting = await batch.readNamespacedJob({ name: 'j', namespace });
  t.truthy(deleting.metadata!.deletionTimestamp);
  t.deepEqual(deleting.metadata!.finalizers, ['foregroundDeletion']);
  t.truthy((await core.readNamespacedPod({ name: 'p', namespace })).metadata!.deletionTimestamp);

  await core.patchNamespacedPod({ name: 'p', namespace, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  t.is((await failure(core.readNamespacedPod({ name: 'p', namespace }))).code, 404);
  t.is((await failure(batch.readNamespacedJob({ name: 'j', namespace }))).code, 404);
});

test('deleting a namespace removes its objects; creating in it afterwards is 404', async (t) => {
  const { core, net } = await clusterFixture(t);
  await core.createNamespace({ body: { metadata: { name: 'team' } } });
  await net.createNamespacedNetworkPolicy({ namespace: 'team', body: { metadata: { name: 'deny' }, spec: { podSelector: {} } } });
  await core.createNamespacedPersistentVolumeClaim({ namespace: 'team', body: { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } });
  await core.deleteNamespace({ name: 'team' });
  t.deepEqual((await net.listNetworkPolicyForAllNamespaces()).items, []);
  t.deepEqual((await core.listNamespace()).items.map((n) => n.metadata!.name), ['default']);
  t.is((await failure(core.createNamespacedConfigMap({ namespace: 'team', body: { metadata: { name: 'c' } } }))).code, 404);
});

test('pods/log hands the kubelet the container and the follow/tail options, and answers its errors', async (t) => {
  const asked: LogReadOptions[] = [];
  const streamPodLog = (_ns: string, pod: string, _container: string | undefined, options: LogReadOptions) => {
    if (pod !== 'done') throw new ApiError(400, 'BadRequest', `container "c" in pod "${pod}" is waiting to start: ContainerCreating`);
    asked.push(options);
    return Readable.from(['one\n', 'two\n']);
  };
  const { core } = await clusterFixture(t, { controllers: () => [{ close: () => undefined, streamPodLog }] });
  await core.createNamespacedPod({ namespace, body: podManifest('done') });
  await core.createNamespacedPod({ namespace, body: podManifest('waiting') });
  t.is(await core.readNamespacedPodLog({ name: 'done', namespace }), 'one\ntwo\n');
  await core.readNamespacedPodLog({ name: 'done', namespace, tailLines: 1, follow: true });
  t.deepEqual(asked, [
    { follow: false, timestamps: false },
    { follow: true, timestamps: false, tailLines: 1 },
  ]);
  t.is((await failure(core.readNamespacedPodLog({ name: 'waiting', namespace }))).code, 400);
  t.is((await failure(core.readNamespacedPodLog({ name: 'absent', namespace }))).code, 404);
});

test('fault injection: a seeded 500 rate, and a create whose response is lost leaves the object for a 409', async (t) => {
  const { core, cluster } = await clusterFixture(t, { faults: { errorRate: 0.5, seed: 7 } });
  const outcomes: number[] = [];
  for (let i = 0; i < 20; i++) {
    outcomes.push(await core.listNamespacedPod({ namespace }).then(() => 200, (e: { code: number }) => e.code));
  }
  t.true(outcomes.includes(500) && outcomes.includes(200));
  t.true(outcomes.every((c) => c === 200 || c === 500));
  cluster.faults.set({ errorRate: 0 });
  const internal = cluster.faults.settings;
  t.is(internal.errorRate, 0);

  cluster.faults.set({ loseCreateResponses: { Secret: 1 } });
  const lost = await core.createNamespacedSecret({ namespace, body: { metadata: { name: 's' } } }).then(() => 'ok', (e: Error) => e.message);
  t.not(lost, 'ok');
  t.like(await failure(core.createNamespacedSecret({ namespace, body: { metadata: { name: 's' } } })), { code: 409, status: { reason: 'AlreadyExists' } });
});

test('discovery and kubectl get work against the simulated cluster', async (t) => {
  const { core, cluster } = await clusterFixture(t);
  await core.createNamespacedPod({ namespace, body: podManifest('hello') });
  const { stdout } = await run('kubectl', ['--kubeconfig', cluster.kubeconfigPath, 'get', 'pods', '-o', 'name']);
  t.is(stdout.trim(), 'pod/hello');
  const jobs = await run('kubectl', ['--kubeconfig', cluster.kubeconfigPath, 'get', 'jobs.batch,networkpolicies', '-A']);
  t.regex(jobs.stdout + jobs.stderr, /No resources found/);
  const version = await (await fetch(`${cluster.url}/version`)).json() as { major: string };
  t.is(version.major, '1');
});

import { makeInformer, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import test from 'ava';
import { clusterFixture, until, type Fixture } from './fixture.js';

const namespace = 'default';
const path = '/api/v1/namespaces/default/configmaps';

interface Seen { type: string; name?: string; rv?: string; code?: number }

/** Opens a watch and records its events; `done` resolves with the error the watch ended with (or null). */
async function watchEvents(f: Fixture, query: Record<string, string | number | boolean>) {
  const seen: Seen[] = [];
  let resolveDone!: (err: unknown) => void;
  const done = new Promise<unknown>((resolve) => { resolveDone = resolve; });
  const controller = await new Watch(f.kc).watch(path, query, (type, obj: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) => {
    seen.push({ type, ...(obj.metadata?.name ? { name: obj.metadata.name } : {}), ...(obj.metadata?.resourceVersion ? { rv: obj.metadata.resourceVersion } : {}), ...(obj.code ? { code: obj.code } : {}) });
  }, resolveDone);
  return { seen, done, stop: () => controller.abort() };
}

const configMap = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, data: { v: '1' } });

test('a watch from a list resourceVersion delivers exactly the later changes; without one it starts with ADDED', async (t) => {
  const f = await clusterFixture(t);
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('a') });
  const listed = await f.core.listNamespacedConfigMap({ namespace });
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('b') });
  await f.core.patchNamespacedConfigMap({ name: 'a', namespace, body: [{ op: 'replace', path: '/data/v', value: '2' }] });
  await f.core.deleteNamespacedConfigMap({ name: 'b', namespace });

  const resumed = await watchEvents(f, { resourceVersion: listed.metadata!.resourceVersion! });
  await until(() => resumed.seen.length >= 3, 'three events');
  t.deepEqual(resumed.seen.map((e) => `${e.type} ${e.name}`), ['ADDED b', 'MODIFIED a', 'DELETED b']);
  const rvs = resumed.seen.map((e) => Number(e.rv));
  t.true(rvs.every((rv, i) => i === 0 || rv > rvs[i - 1]!), 'resourceVersions increase');
  resumed.stop();

  const fresh = await watchEvents(f, {});
  await until(() => fresh.seen.length >= 1, 'the synthetic ADDED');
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('c') });
  await until(() => fresh.seen.length >= 2, 'the live ADDED');
  t.deepEqual(fresh.seen.map((e) => `${e.type} ${e.name}`), ['ADDED a', 'ADDED c']);
  fresh.stop();
});

test('a selector watch sees an object leaving the selection as DELETED and entering it as ADDED', async (t) => {
  const f = await clusterFixture(t);
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('a', { app: 'x' }) });
  const w = await watchEvents(f, { labelSelector: 'app=x' });
  await until(() => w.seen.length === 1, 'initial ADDED');
  const relabel = (app: string) => f.core.patchNamespacedConfigMap({ name: 'a', namespace, body: [{ op: 'replace', path: '/metadata/labels/app', value: app }] });
  await relabel('y');
  await relabel('z');
  await relabel('x');
  await until(() => w.seen.length === 3, 'leave and re-enter');
  t.deepEqual(w.seen.map((e) => e.type), ['ADDED', 'DELETED', 'ADDED']);
  w.stop();
});

test('bookmarks carry the current resourceVersion when allowed; timeoutSeconds ends the stream cleanly', async (t) => {
  const f = await clusterFixture(t, { bookmarkIntervalMs: 20 });
  const created = await f.core.createNamespacedConfigMap({ namespace, body: configMap('a') });
  const w = await watchEvents(f, { resourceVersion: created.metadata!.resourceVersion!, allowWatchBookmarks: true, timeoutSeconds: 1 });
  await until(() => w.seen.some((e) => e.type === 'BOOKMARK'), 'a bookmark');
  t.is(w.seen.find((e) => e.type === 'BOOKMARK')!.rv, f.cluster.store.resourceVersion);
  t.is(await w.done, null);

  const quiet = await watchEvents(f, { resourceVersion: created.metadata!.resourceVersion!, timeoutSeconds: 1 });
  t.is(await quiet.done, null);
  t.false(quiet.seen.some((e) => e.type === 'BOOKMARK'), 'no bookmarks unless allowed');
});

test('a watch from a resourceVersion older than the history gets an ERROR event with 410 Expired, as does a forced one', async (t) => {
  const f = await clusterFixture(t, { historySize: 2 });
  const first = await f.core.createNamespacedConfigMap({ namespace, body: configMap('a') });
  for (const name of ['b', 'c', 'd']) await f.core.createNamespacedConfigMap({ namespace, body: configMap(name) });
  const old = await watchEvents(f, { resourceVersion: first.metadata!.resourceVersion! });
  t.is(await old.done, null);
  t.deepEqual(old.seen, [{ type: 'ERROR', code: 410 }]);

  f.cluster.faults.set({ expireWatches: 1 });
  const forced = await watchEvents(f, { resourceVersion: f.cluster.store.resourceVersion });
  await forced.done;
  t.deepEqual(forced.seen, [{ type: 'ERROR', code: 410 }]);
  const next = await watchEvents(f, { resourceVersion: f.cluster.store.resourceVersion, timeoutSeconds: 1 });
  t.is(await next.done, null);
  t.deepEqual(next.seen, [], 'only the next resume is expired');
});

test('makeInformer follows adds, updates and deletes, and after a dropped watch and a 410 relists to the truth', async (t) => {
  const f = await clusterFixture(t);
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('before') });
  const informer = makeInformer<V1ConfigMap>(f.kc, path, () => f.core.listNamespacedConfigMap({ namespace }));
  const log: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (o) => log.push(`add ${o.metadata!.name}`));
  informer.on('update', (o) => log.push(`update ${o.metadata!.name} ${o.data!['v']}`));
  informer.on('delete', (o) => log.push(`delete ${o.metadata!.name}`));
  informer.on('error', (err) => { errors.push(err); });
  await informer.start();
  t.teardown(() => informer.stop());
  await until(() => log.includes('add before'), 'the listed object');

  await f.core.createNamespacedConfigMap({ namespace, body: configMap('live') });
  await f.core.patchNamespacedConfigMap({ name: 'live', namespace, body: [{ op: 'replace', path: '/data/v', value: '2' }] });
  await f.core.deleteNamespacedConfigMap({ name: 'before', namespace });
  await until(() => log.includes('delete before'), 'watch events');
  t.deepEqual(log, ['add before', 'add live', 'update live 2', 'delete before']);

  f.cluster.faults.set({ expireWatches: 1 });
  f.cluster.faults.dropWatches();
  await until(() => errors.length === 1, 'the informer error on a dropped watch');
  // While the informer is down: changes it can only learn about by relisting after the 410.
  await f.core.deleteNamespacedConfigMap({ name: 'live', namespace });
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('missed') });
  await informer.start(); // the informer does not restart itself; the agent does this on 'error'
  await until(() => log.includes('add missed') && log.includes('delete live'), 'the relist');
  t.deepEqual(informer.list().map((o) => o.metadata!.name), ['missed']);
  t.is(f.cluster.faults.settings.expireWatches, 0, 'the resume was answered 410');
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('after') });
  await until(() => log.includes('add after'), 'events after the restart');
});

test('dropWatchesEveryMs keeps destroying watch connections', async (t) => {
  const f = await clusterFixture(t, { faults: { dropWatchesEveryMs: 30 } });
  const w = await watchEvents(f, {});
  t.truthy(await w.done, 'the watch ends with a connection error');
});

test('like the real API server, any watch value but 0 and false is a watch (watch=True included)', async (t) => {
  const f = await clusterFixture(t);
  await f.core.createNamespacedConfigMap({ namespace, body: configMap('a') });
  /** The first chunk of the answer to a GET with this watch value. */
  const first = async (value: string): Promise<{ body: string }> => {
    const controller = new AbortController();
    const response = await fetch(`${f.cluster.url}${path}?watch=${value}`, { signal: controller.signal, headers: { authorization: 'Bearer sim-token' } });
    const reader = response.body!.getReader();
    const { value: chunk } = await reader.read();
    controller.abort();
    return { body: new TextDecoder().decode(chunk) };
  };
  for (const value of ['true', '1', 'True', 'yes']) {
    const { body } = await first(value);
    t.true(body.startsWith('{"type":"ADDED"'), `watch=${value}: ${body.slice(0, 60)}`);
  }
  for (const value of ['false', '0']) {
    const { body } = await first(value);
    t.is(JSON.parse(body).kind, 'ConfigMapList', `watch=${value} lists`);
  }
});

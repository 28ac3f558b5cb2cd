import { AuthorizationV1Api } from '@kubernetes/client-node';
import test from 'ava';
import { clusterFixture, failure } from './fixture.js';

test('SelfSubjectAccessReviews: allowed by default, denied as a test says; a denied request gets 403 as RBAC words it', async (t) => {
  const { cluster, kc, batch } = await clusterFixture(t);
  const authorization = kc.makeApiClient(AuthorizationV1Api);
  const ask = async (verb: string, namespace = 'default') =>
    (await authorization.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace, verb, group: 'batch', resource: 'jobs' } } } })).status?.allowed;
  t.true(await ask('create'));

  cluster.access.deny({ verb: 'create', resource: 'jobs', namespace: 'default' });
  t.false(await ask('create'));
  t.true(await ask('list'), 'only what matches the rule is denied');
  t.true(await ask('create', 'elsewhere'));
  const denied = await failure(batch.createNamespacedJob({ namespace: 'default', body: { metadata: { name: 'x' } } }));
  t.is(denied.code, 403);
  t.like(denied.status, {
    reason: 'Forbidden',
    message: 'jobs.batch is forbidden: User "system:serviceaccount:sim:agent" cannot create resource "jobs" in API group "batch" in the namespace "default"',
  });

  cluster.access.reset();
  t.true(await ask('create'));
  t.deepEqual((await batch.listNamespacedJob({ namespace: 'default' })).items, [], 'reviews store nothing');
});

test('a dry-run create stores nothing and fails with 404 in a namespace that does not exist', async (t) => {
  const { core } = await clusterFixture(t);
  const created = await core.createNamespacedSecret({ namespace: 'default', dryRun: 'All', body: { metadata: { name: 's' } } });
  t.is(created.metadata?.name, 's');
  t.deepEqual((await core.listNamespacedSecret({ namespace: 'default' })).items, []);
  const missing = await failure(core.createNamespacedSecret({ namespace: 'absent', dryRun: 'All', body: { metadata: { name: 's' } } }));
  t.is(missing.code, 404);
  t.is(missing.status.message, 'namespaces "absent" not found');
});

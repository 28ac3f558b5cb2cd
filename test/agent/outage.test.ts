import test from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import { isJobFinished } from '../../agent/runs/capacity.js';
import { runObjectName } from '../../agent/kube/names.js';
import { UserClient, plainInput } from '../dev-server/user-client.js';
import { ALGORITHM_IMAGE, NAMESPACE, startWorld, type World } from '../support/world.js';
import { nodeObjects, serverRun, startAgent, waitFor } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;

let world: World;
let agent: NodeAgent;
let researcher: UserClient;

test.before(async () => {
  world = await startWorld();
  agent = await startAgent(world, world.config(NODE));
  researcher = new UserClient(`${world.server.url}${world.server.apiPath}`);
  await researcher.login('researcher-alpha', 'alpha-password');
});

test.after.always(async () => {
  await world?.server.resume();
  await agent?.close();
  await world?.close();
});

test.serial('a run that finishes while the server is unreachable is reported once, after it is back, then cleaned up', async (t) => {
  const task = await researcher.createTask({
    collaborationId: 1,
    organizations: [{ id: ORG, input: plainInput({ method: 'sleep', kwargs: { seconds: 1 } }) }],
    image: ALGORITHM_IMAGE,
    name: 'outage',
    databases: [{ label: 'default' }],
  });
  const run = await waitFor('run active', () => {
    const r = serverRun(world, task.id, ORG);
    return r?.status === 'active' ? r : undefined;
  });
  const jobName = runObjectName(NODE, run.id);

  await world.server.suspend();
  await waitFor('the Job completed in the cluster', () => {
    const job = world.cluster.store.get('jobs', NAMESPACE, jobName);
    return job !== undefined && isJobFinished(job as never);
  });
  t.is(serverRun(world, task.id, ORG)!.finished_at, null, 'the server could not have heard of it yet');
  await world.server.resume();

  const [finished] = await researcher.waitForTask(task.id, { timeoutMs: 20_000 });
  t.is(finished!.status, 'completed', finished!.log ?? '');
  t.regex(finished!.log ?? '', /sleeping 1 s/);
  const [result] = await researcher.getResults(task.id);
  t.truthy(result?.result, 'the result was delivered');

  await waitFor('objects cleaned up', async () => {
    const objects = await nodeObjects(world, NODE);
    return objects.jobs.length === 0 && objects.secrets.length === 0;
  }).catch(() => undefined);
  const objects = await nodeObjects(world, NODE);
  t.deepEqual(objects.jobs.map((j) => j.metadata?.name), []);
  t.deepEqual(objects.secrets.map((s) => s.metadata?.name), []);

  const finals = world.server.state.patches.filter(
    (p) => p.run_id === run.id && typeof p.body === 'object' && p.body !== null && 'finished_at' in p.body,
  );
  t.is(finals.length, 1, `one final PATCH: ${JSON.stringify(finals)}`);
  t.is(finals[0]?.status, 200);
});

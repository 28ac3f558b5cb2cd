import test from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import { isJobFinished } from '../../agent/runs/capacity.js';
import { runObjectName } from '../../agent/kube/names.js';
import type { UserClient } from '../dev-server/user-client.js';
import { NAMESPACE, startWorld, type World } from '../support/world.js';
import { assertNodeCleanedUp, createTask, finalPatches, researcherOf, serverRun, startAgent, waitForRunStatus, waitFor } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;

let world: World;
let agent: NodeAgent;
let researcher: UserClient;

test.before(async () => {
  world = await startWorld();
  agent = await startAgent(world, world.config(NODE));
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await world?.server.resume();
  await agent?.close();
  await world?.close();
});

test.serial('a run that finishes while the server is unreachable is reported once, after it is back, then cleaned up', async (t) => {
  const task = await createTask(researcher, { method: 'sleep', kwargs: { seconds: 1 }, organizationId: ORG, name: 'outage' });
  const run = await waitForRunStatus(world, task.id, ORG, 'active');
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

  await assertNodeCleanedUp(t, world, NODE);

  const finals = finalPatches(world, run.id);
  t.is(finals.length, 1, `one final PATCH: ${JSON.stringify(finals)}`);
  t.is(finals[0]?.status, 200);
});

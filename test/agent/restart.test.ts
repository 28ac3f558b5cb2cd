import test from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import type { Config } from '../../agent/config.js';
import { isJobFinished } from '../../agent/runs/capacity.js';
import { runObjectName } from '../../agent/kube/names.js';
import type { UserClient } from '../dev-server/user-client.js';
import { NAMESPACE, startWorld, type World } from '../support/world.js';
import { assertNodeCleanedUp, createTask, finalPatches, recordJobsCreated, researcherOf, serverRun, startAgent, waitForRunStatus, waitFor } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;

let world: World;
let config: Config;
let agent: NodeAgent;
let researcher: UserClient;
/** Run ids for which the cluster saw a Job created, once per creation. */
let jobsCreated: number[];

test.before(async () => {
  world = await startWorld();
  jobsCreated = recordJobsCreated(world);
  config = world.config(NODE);
  agent = await startAgent(world, config);
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await agent?.close();
  await world?.close();
});

async function activeSleepRun(seconds: number) {
  const task = await createTask(researcher, { method: 'sleep', kwargs: { seconds }, organizationId: ORG, name: 'restart' });
  const run = await waitForRunStatus(world, task.id, ORG, 'active');
  return { task, run };
}

test.serial('an agent restarted mid-run adopts the running Job: one Job ever, the result delivered once', async (t) => {
  const { task, run } = await activeSleepRun(3);
  await agent.close();
  agent = await startAgent(world, config);

  const [finished] = await researcher.waitForTask(task.id, { timeoutMs: 20_000 });
  t.is(finished!.status, 'completed', finished!.log ?? '');
  t.regex(finished!.log ?? '', /sleeping 3 s/);
  t.is(jobsCreated.filter((id) => id === run.id).length, 1, 'exactly one Job was created for the run');
  t.is(finalPatches(world, run.id).length, 1, JSON.stringify(finalPatches(world, run.id)));
  await assertNodeCleanedUp(t, world, NODE);
});

test.serial('a run that finished while the agent was down is reported after the restart', async (t) => {
  const { task, run } = await activeSleepRun(1);
  await agent.close();
  await waitFor('the Job completed in the cluster', () => {
    const job = world.cluster.store.get('jobs', NAMESPACE, runObjectName(NODE, run.id));
    return job !== undefined && isJobFinished(job as never);
  });
  t.is(serverRun(world, task.id, ORG)!.finished_at, null, 'nobody reported it while the agent was down');
  agent = await startAgent(world, config);

  const [finished] = await researcher.waitForTask(task.id, { timeoutMs: 20_000 });
  t.is(finished!.status, 'completed', finished!.log ?? '');
  t.regex(finished!.log ?? '', /sleeping 1 s/);
  const [result] = await researcher.getResults(task.id);
  t.truthy(result?.result);
  t.is(jobsCreated.filter((id) => id === run.id).length, 1, 'no second Job after the restart');
  t.is(finalPatches(world, run.id).length, 1);
  await assertNodeCleanedUp(t, world, NODE);
});

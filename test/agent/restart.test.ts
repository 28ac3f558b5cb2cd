import test, { type ExecutionContext } from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import type { Config } from '../../agent/config.js';
import { isJobFinished } from '../../agent/runs/capacity.js';
import { LabelKey, runObjectName } from '../../agent/kube/names.js';
import { UserClient, plainInput } from '../dev-server/user-client.js';
import { ALGORITHM_IMAGE, NAMESPACE, startWorld, type World } from '../support/world.js';
import { nodeObjects, serverRun, startAgent, waitFor } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;

let world: World;
let config: Config;
let agent: NodeAgent;
let researcher: UserClient;
/** Run ids for which the cluster saw a Job created, once per creation. */
const jobsCreated: number[] = [];

test.before(async () => {
  world = await startWorld();
  world.cluster.store.on((event) => {
    if (event.type === 'ADDED' && event.plural === 'jobs') jobsCreated.push(Number(event.object.metadata.labels?.[LabelKey.RunId]));
  });
  config = world.config(NODE);
  agent = await startAgent(world, config);
  researcher = new UserClient(`${world.server.url}${world.server.apiPath}`);
  await researcher.login('researcher-alpha', 'alpha-password');
});

test.after.always(async () => {
  await agent?.close();
  await world?.close();
});

async function activeSleepRun(seconds: number) {
  const task = await researcher.createTask({
    collaborationId: 1,
    organizations: [{ id: ORG, input: plainInput({ method: 'sleep', kwargs: { seconds } }) }],
    image: ALGORITHM_IMAGE,
    name: 'restart',
    databases: [{ label: 'default' }],
  });
  const run = await waitFor('run active', () => {
    const r = serverRun(world, task.id, ORG);
    return r?.status === 'active' ? r : undefined;
  });
  return { task, run };
}

function finalPatches(runId: number) {
  return world.server.state.patches.filter(
    (p) => p.run_id === runId && typeof p.body === 'object' && p.body !== null && 'finished_at' in p.body,
  );
}

async function assertCleanedUp(t: ExecutionContext) {
  await waitFor('objects cleaned up', async () => {
    const objects = await nodeObjects(world, NODE);
    return objects.jobs.length === 0 && objects.secrets.length === 0;
  }).catch(() => undefined);
  const objects = await nodeObjects(world, NODE);
  t.deepEqual(objects.jobs.map((j) => j.metadata?.name), []);
  t.deepEqual(objects.secrets.map((s) => s.metadata?.name), []);
}

test.serial('an agent restarted mid-run adopts the running Job: one Job ever, the result delivered once', async (t) => {
  const { task, run } = await activeSleepRun(3);
  await agent.close();
  agent = await startAgent(world, config);

  const [finished] = await researcher.waitForTask(task.id, { timeoutMs: 20_000 });
  t.is(finished!.status, 'completed', finished!.log ?? '');
  t.regex(finished!.log ?? '', /sleeping 3 s/);
  t.is(jobsCreated.filter((id) => id === run.id).length, 1, 'exactly one Job was created for the run');
  t.is(finalPatches(run.id).length, 1, JSON.stringify(finalPatches(run.id)));
  await assertCleanedUp(t);
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
  t.is(finalPatches(run.id).length, 1);
  await assertCleanedUp(t);
});

import test from 'ava';
import { randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import { Queue } from 'bullmq';
import type { NodeAgent } from '../../agent/node-agent.js';
import { agentRunFolder } from '../../agent/kube/paths.js';
import { launchJobId } from '../../queue/run-queues.js';
import type { UserClient } from '../dev-server/user-client.js';
import { startWorld, type World } from '../support/world.js';
import { createTask, nodeObjects, processesWith, recordJobsCreated, researcherOf, scopeOf, serverRun, startAgent, waitForRunStatus, waitFor } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;
const MARKER = `V6_KILL_TEST_${randomUUID().replaceAll('-', '')}`;

let world: World;
let agent: NodeAgent;
let researcher: UserClient;
let scope = '';
let launchQueue: Queue;
let tasksRoot: string;
/** Run ids for which the cluster ever saw a Job created. */
let jobsCreated: number[];

test.before(async () => {
  world = await startWorld();
  tasksRoot = `${world.root}/org${ORG}/tasks`;
  jobsCreated = recordJobsCreated(world);
  const config = world.config(NODE, {
    algorithm_env: { [MARKER]: '1' },
    queue: { prefix: `v6-node-${NODE}`, concurrency: 4, max_active_jobs: 1 },
  });
  agent = await startAgent(world, config);
  launchQueue = new Queue('launch', { prefix: config.queue.prefix, connection: { url: world.redisUrl } });
  scope = scopeOf(config, NODE);
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await launchQueue?.close();
  await agent?.close();
  await world?.close();
});

function sleepTask(seconds: number, organizationId = ORG) {
  return createTask(researcher, { method: 'sleep', kwargs: { seconds }, organizationId, name: 'kill test' });
}

function activeRun(taskId: number) {
  return waitForRunStatus(world, taskId, ORG, 'active');
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test.serial('kill while running: the Job, Secret, process and run folder are gone and the run is killed by user', async (t) => {
  const task = await sleepTask(30);
  const run = await activeRun(task.id);
  t.true((await processesWith(MARKER)).length > 0, 'the sleeping algorithm runs before the kill');
  t.true(await exists(agentRunFolder(tasksRoot, run.id)));

  await researcher.kill(task.id);
  await waitFor('the run cleaned up', async () => {
    const objects = await nodeObjects(world, NODE);
    return (
      objects.jobs.length === 0 &&
      objects.secrets.length === 0 &&
      (await processesWith(MARKER)).length === 0 &&
      !(await exists(agentRunFolder(tasksRoot, run.id)))
    );
  }).catch(() => undefined);

  const objects = await nodeObjects(world, NODE);
  t.deepEqual(objects.jobs.map((j) => j.metadata?.name), []);
  t.deepEqual(objects.secrets.map((s) => s.metadata?.name), []);
  t.deepEqual(await processesWith(MARKER), [], 'the sleeping process is gone');
  t.false(await exists(agentRunFolder(tasksRoot, run.id)), 'the run folder is removed');
  const [after] = await researcher.getRuns(task.id);
  t.is(after!.status, 'killed by user');
});

test.serial('kill while queued: the run never gets a Job', async (t) => {
  const occupier = await sleepTask(30);
  const occupierRun = await activeRun(occupier.id);
  const queued = await sleepTask(1);
  const queuedRun = serverRun(world, queued.id, ORG)!;
  await waitFor('the second run queued', () => launchQueue.getJob(launchJobId(scope, queuedRun.id)));
  t.is(serverRun(world, queued.id, ORG)!.status, 'pending', 'the cap holds the second run back');

  await researcher.kill(queued.id);
  // Free the slot: if the killed run were still queued, it would now get its Job.
  await researcher.kill(occupier.id);
  await waitFor('the occupier cleaned up', async () => (await nodeObjects(world, NODE)).jobs.length === 0);
  await waitFor('the killed run left the launch queue', async () => {
    const job = await launchQueue.getJob(launchJobId(scope, queuedRun.id));
    return job === undefined || (await job.getState()) === 'completed';
  });

  t.true(jobsCreated.includes(occupierRun.id));
  t.false(jobsCreated.includes(queuedRun.id), 'no Job was ever created for the run killed while queued');
  t.is(serverRun(world, queued.id, ORG)!.status, 'killed by user');
  t.deepEqual(
    world.server.state.patches.filter((p) => p.run_id === queuedRun.id),
    [],
    'the node did not touch the killed run',
  );
});

test.serial('kill_containers for another organization\'s run leaves this node\'s run alone', async (t) => {
  const ours = await sleepTask(3);
  const ourRun = await activeRun(ours.id);
  const theirs = await sleepTask(30, 2); // node 2 is not running: the run stays pending
  const theirRun = serverRun(world, theirs.id, 2)!;
  await researcher.kill(theirs.id);
  t.true(
    world.server.state.events.some((e) => e.event === 'kill_containers'),
    'the server told the nodes to kill',
  );

  const [finished] = await researcher.waitForTask(ours.id, { timeoutMs: 20_000 });
  t.is(finished!.status, 'completed', finished!.log ?? '');
  t.deepEqual(
    world.server.state.patches.filter((p) => p.run_id === theirRun.id),
    [],
    'node 1 sent nothing about organization 2\'s run',
  );
  t.true(jobsCreated.includes(ourRun.id));
  t.false(jobsCreated.includes(theirRun.id));
});

// More kill_containers cases for the agent against the dev server, Redis and the simulated
// cluster: the whole-node form, and a kill list naming a run of this organization the agent
// never had.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import type { NodeAgent } from '../../agent/node-agent.js';
import { launchJobId } from '../../queue/run-queues.js';
import type { UserClient } from '../dev-server/user-client.js';
import { quietTask } from '../dev-server/quiet-task.js';
import { ALGORITHM_IMAGE, startWorld, type World } from '../support/world.js';
import { createTask, nodeObjects, processesWith, recordJobsCreated, researcherOf, scopeOf, serverRun, startAgent, waitForRunStatus, waitFor } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;
const MARKER = `V6_KILL_MORE_${randomUUID().replaceAll('-', '')}`;

let world: World;
let agent: NodeAgent;
let researcher: UserClient;
let scope = '';
let launchQueue: Queue;
/** Run ids for which the cluster ever saw a Job created. */
let jobsCreated: number[];
/** The agent's log records. */
const logs: Array<Record<string, unknown>> = [];

test.before(async () => {
  world = await startWorld();
  jobsCreated = recordJobsCreated(world);
  const config = world.config(NODE, {
    algorithm_env: { [MARKER]: '1' },
    queue: { prefix: `v6-node-kill-more-${NODE}`, concurrency: 4, max_active_jobs: 1 },
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  agent = await startAgent(world, config, pino({ level: 'info' }, sink));
  launchQueue = new Queue('launch', { prefix: config.queue.prefix, connection: { url: world.redisUrl } });
  scope = scopeOf(config, NODE);
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await launchQueue?.close();
  await agent?.close();
  await world?.close();
});

function sleepTask(seconds: number) {
  return createTask(researcher, { method: 'sleep', kwargs: { seconds }, organizationId: ORG, name: 'kill-more test' });
}

test.serial('kill_containers for the whole node kills every run of the node: running and queued', async (t) => {
  const running = await sleepTask(30);
  const runningRun = await waitForRunStatus(world, running.id, ORG, 'active');
  const queued = await sleepTask(30);
  const queuedRun = serverRun(world, queued.id, ORG)!;
  await waitFor('the second run queued', () => launchQueue.getJob(launchJobId(scope, queuedRun.id)));
  t.is(serverRun(world, queued.id, ORG)!.status, 'pending', 'the cap holds the second run back');

  await researcher.killNodeTasks(NODE);
  await waitFor('both runs killed by user', () =>
    serverRun(world, running.id, ORG)?.status === 'killed by user' && serverRun(world, queued.id, ORG)?.status === 'killed by user',
  );
  await waitFor('no Job, Secret or process left', async () => {
    const objects = await nodeObjects(world, NODE);
    return objects.jobs.length === 0 && objects.secrets.length === 0 && (await processesWith(MARKER)).length === 0;
  });

  t.true(jobsCreated.includes(runningRun.id));
  t.false(jobsCreated.includes(queuedRun.id), 'the queued run never got a Job');
  for (const run of [serverRun(world, running.id, ORG)!, serverRun(world, queued.id, ORG)!]) {
    t.is(run.status, 'killed by user');
    t.truthy(run.finished_at, 'the node finished the run at the server');
    t.regex(run.log ?? '', /killed by user/);
  }
  t.true(
    world.server.state.events.some(
      (e) => e.event === 'algorithm_status_change' && (e.data as { run_id?: number }).run_id === runningRun.id && (e.data as { status?: string }).status === 'killed by user',
    ),
    'the node announced the kill',
  );
});

test.serial('a kill list naming a run of this organization the agent never had changes nothing and is logged', async (t) => {
  const ours = await sleepTask(2);
  const ourRun = await waitForRunStatus(world, ours.id, ORG, 'active');
  // A task the node was never told about: its run is unknown to the agent.
  const unknown = quietTask(world.server, { collaborationId: 1, organizationIds: [ORG], image: ALGORITHM_IMAGE });
  const unknownRun = serverRun(world, unknown.id, ORG)!;
  await researcher.kill(unknown.id);
  await waitFor('the kill logged', () => logs.some((l) => l.runId === unknownRun.id && /kill/i.test(String(l.msg))));

  const [finished] = await researcher.waitForTask(ours.id, { timeoutMs: 20_000 });
  t.is(finished!.status, 'completed', 'the run the agent did have is untouched');
  t.true(jobsCreated.includes(ourRun.id));
  t.false(jobsCreated.includes(unknownRun.id), 'no Job for the unknown run');
  t.deepEqual(
    world.server.state.patches.filter((p) => p.run_id === unknownRun.id),
    [],
    'the node sent nothing about the run it never had',
  );
  t.is(serverRun(world, unknown.id, ORG)!.status, 'killed by user', 'as the server set it');
  await waitFor('nothing left in the cluster', async () => (await nodeObjects(world, NODE)).jobs.length === 0);
});

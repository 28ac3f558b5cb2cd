// The task volume all runs share: jobs' temporary folders kept while the job has a run on the
// node and removed once it has none, without following what an algorithm left there; and the
// quota on what one run may hold there.
import test from 'ava';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentJobTmpFolder } from '../../agent/kube/paths.js';
import type { UserClient } from '../dev-server/user-client.js';
import { NodeAgent } from '../../agent/node-agent.js';
import { startWorld, testLogger, type World } from '../support/world.js';
import { TIMINGS, createTask, nodeObjects, researcherOf, serverRun, waitFor, waitForRunStatus } from './run-helpers.js';

const NODE = 1;
const ORG = 1;
const SWEEP_MS = 300;
const MAX_VOLUME_BYTES = 1_000_000;

let world: World;
let agent: NodeAgent;
let researcher: UserClient;
let tasksRoot: string;

test.before(async () => {
  world = await startWorld();
  tasksRoot = join(world.root, `org${ORG}`, 'tasks');
  agent = await NodeAgent.start({
    config: world.config(NODE, {
      queue: { prefix: `v6-node-tmp-${NODE}`, concurrency: 2 },
      kubernetes: { ...world.config(NODE).kubernetes, run: { ...world.config(NODE).kubernetes.run, max_volume_bytes: MAX_VOLUME_BYTES } },
    }),
    logger: testLogger(),
    kubeConfig: world.kubeConfig,
    timings: { ...TIMINGS, tmpSweepMs: SWEEP_MS, volumeCheckMs: 200 },
  });
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await agent?.close();
  await world?.close();
});

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

test.serial('a finished job\'s temporary folder is removed, with what the algorithm wrote, following none of its links', async (t) => {
  const outside = join(world.root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'keep'), 'not the algorithm\'s');
  const task = await createTask(researcher, { method: 'write_tmp', kwargs: { bytes: 100_000, link_to: outside }, organizationId: ORG });
  await researcher.waitForTask(task.id, { timeoutMs: 30_000 });
  t.is(serverRun(world, task.id, ORG)!.status, 'completed');
  const folder = agentJobTmpFolder(tasksRoot, task.job_id);
  await waitFor('the temporary folder removed', async () => !(await exists(folder)), 10_000);
  t.deepEqual(await readdir(outside), ['keep'], 'the link the algorithm left was not followed');
});

test.serial('a running job keeps its temporary folder; once it is killed the folder goes', async (t) => {
  const task = await createTask(researcher, { method: 'sleep', kwargs: { seconds: 60 }, organizationId: ORG });
  await waitForRunStatus(world, task.id, ORG, 'active');
  const folder = agentJobTmpFolder(tasksRoot, task.job_id);
  await new Promise((resolve) => setTimeout(resolve, SWEEP_MS * 5));
  t.true(await exists(folder), 'kept over several sweeps while the run is active');
  await researcher.kill(task.id);
  await waitFor('the temporary folder removed', async () => !(await exists(folder)), 15_000);
  t.pass();
});

test.serial('a run holding more than kubernetes.run.max_volume_bytes on the task volume is stopped and failed, saying so', async (t) => {
  const task = await createTask(researcher, { method: 'write_tmp', kwargs: { bytes: 2 * MAX_VOLUME_BYTES, seconds: 60 }, organizationId: ORG });
  const run = await waitForRunStatus(world, task.id, ORG, 'failed');
  t.regex(run.log ?? '', /wrote \d+ bytes to the task volume .* more than kubernetes\.run\.max_volume_bytes = 1000000; the node stopped it/);
  await waitFor('its Job and folders gone', async () => (await nodeObjects(world, NODE)).jobs.length === 0 && !(await exists(agentJobTmpFolder(tasksRoot, task.job_id))), 15_000);
  t.pass();
});

test.serial('a run within the quota is left alone', async (t) => {
  const task = await createTask(researcher, { method: 'write_tmp', kwargs: { bytes: MAX_VOLUME_BYTES / 4, seconds: 1 }, organizationId: ORG });
  await researcher.waitForTask(task.id, { timeoutMs: 30_000 });
  t.is(serverRun(world, task.id, ORG)!.status, 'completed');
});

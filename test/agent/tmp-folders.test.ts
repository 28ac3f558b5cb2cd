// Jobs' temporary folders on the task volume: kept while the job has a run on the node, removed
// once it has none, without following what an algorithm left there.
import test from 'ava';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentJobTmpFolder } from '../../agent/kube/paths.js';
import type { UserClient } from '../dev-server/user-client.js';
import { NodeAgent } from '../../agent/node-agent.js';
import { startWorld, testLogger, type World } from '../support/world.js';
import { TIMINGS, createTask, researcherOf, serverRun, waitFor, waitForRunStatus } from './run-helpers.js';

const NODE = 1;
const ORG = 1;
const SWEEP_MS = 300;

let world: World;
let agent: NodeAgent;
let researcher: UserClient;
let tasksRoot: string;

test.before(async () => {
  world = await startWorld();
  tasksRoot = join(world.root, `org${ORG}`, 'tasks');
  agent = await NodeAgent.start({
    config: world.config(NODE, { queue: { prefix: `v6-node-tmp-${NODE}`, concurrency: 2 } }),
    logger: testLogger(),
    kubeConfig: world.kubeConfig,
    timings: { ...TIMINGS, tmpSweepMs: SWEEP_MS },
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

// The output size limit (`results.max_output_bytes`) through the agent, against the dev server,
// Redis and the simulated cluster; and algorithm_env names refused when the config is loaded.
import test from 'ava';
import { access } from 'node:fs/promises';
import type { NodeAgent } from '../../agent/node-agent.js';
import { ConfigError } from '../../agent/config.js';
import { agentRunFolder } from '../../agent/kube/paths.js';
import type { UserClient } from '../dev-server/user-client.js';
import { startWorld, type World } from '../support/world.js';
import { createTask, nodeObjects, researcherOf, serverRun, startAgent, waitFor } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;
const LIMIT = 1000;

let world: World;
let agent: NodeAgent;
let researcher: UserClient;
let tasksRoot: string;

test.before(async () => {
  world = await startWorld();
  tasksRoot = `${world.root}/org${ORG}/tasks`;
  agent = await startAgent(
    world,
    world.config(NODE, { results: { max_output_bytes: LIMIT }, queue: { prefix: `v6-node-output-limit-${NODE}`, concurrency: 2 } }),
  );
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await agent?.close();
  await world?.close();
});

async function bigOutput(bytes: number) {
  const task = await createTask(researcher, { method: 'big_output', kwargs: { bytes }, organizationId: ORG, name: `output of ${bytes} bytes` });
  const [run] = await researcher.waitForTask(task.id, { timeoutMs: 20_000 });
  const runId = serverRun(world, task.id, ORG)!.id;
  // The report is followed by the cleanup: wait for it rather than race it.
  await waitFor('the run cleaned up', async () => {
    const objects = await nodeObjects(world, NODE);
    const folder = await access(agentRunFolder(tasksRoot, runId)).then(() => true, () => false);
    return objects.jobs.length === 0 && objects.secrets.length === 0 && !folder;
  }).catch(() => undefined);
  return { run: run!, runId, taskId: task.id };
}

test.serial('an output larger than results.max_output_bytes fails the run with a log naming the limit, and the file is removed', async (t) => {
  const { run, runId, taskId } = await bigOutput(LIMIT + 1);
  t.is(run.status, 'failed');
  t.regex(run.log ?? '', /results\.max_output_bytes = 1000/);
  t.regex(run.log ?? '', /1001 bytes/);
  t.falsy(serverRun(world, taskId, ORG)!.result, 'no result was sent');
  t.false(
    await access(agentRunFolder(tasksRoot, runId)).then(() => true, () => false),
    'the run folder with the oversized output is gone',
  );
  t.deepEqual((await nodeObjects(world, NODE)).jobs, []);
});

test.serial('an output of exactly results.max_output_bytes is delivered', async (t) => {
  const { run, runId, taskId } = await bigOutput(LIMIT);
  t.is(run.status, 'completed', run.log ?? '');
  const result = serverRun(world, taskId, ORG)!.result;
  t.is(Buffer.from(result ?? '', 'base64').toString('utf8'), 'x'.repeat(LIMIT));
  t.false(await access(agentRunFolder(tasksRoot, runId)).then(() => true, () => false));
});

for (const name of ['1ST', 'MY-VAR', 'WITH SPACE', 'PKG_NAME']) {
  test(`algorithm_env name ${JSON.stringify(name)} is refused when the config is loaded, naming the field`, (t) => {
    const error = t.throws(() => world.config(NODE, { algorithm_env: { OK_NAME: 'fine', [name]: 'x' } }), { instanceOf: ConfigError });
    t.regex(error.message, new RegExp(`algorithm_env\\.${name.replace(/[-]/g, '\\-')}: not a name the node may set`));
    t.notRegex(error.message, /OK_NAME/);
  });
}

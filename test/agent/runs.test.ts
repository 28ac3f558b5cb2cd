import test from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import type { UserClient } from '../dev-server/user-client.js';
import { ALGORITHM_IMAGE, NAMESPACE, startWorld, type World } from '../support/world.js';
import { createTask, nodeObjects, researcherOf, startAgent, waitFor, type TaskInput } from './run-helpers.js';

let world: World;
let agent: NodeAgent;
let researcher: UserClient;

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;

test.before(async () => {
  world = await startWorld();
  agent = await startAgent(
    world,
    world.config(NODE, {
      policies: { allowed_algorithms: ['^v6-test/.*'] },
      kubernetes: {
        namespace: NAMESPACE,
        task_volume: { claim_name: 'v6-tasks-org1', access_mode: 'ReadWriteMany', mount_path: `${world.root}/org1/tasks` },
        image_overrides: [{ image: 'v6-test/algorithms:2', active_deadline_seconds: 1 }],
      },
    }),
  );
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await agent?.close();
  await world?.close();
});

async function runTask(input: TaskInput, image = ALGORITHM_IMAGE) {
  const task = await createTask(researcher, { ...input, organizationId: ORG, image, name: 'test' });
  const [run] = await researcher.waitForTask(task.id, { timeoutMs: 60_000 });
  const [result] = await researcher.getResults(task.id);
  return { task, run: run!, result: result?.result };
}

function decoded(result: string | null | undefined): unknown {
  return JSON.parse(Buffer.from(result ?? '', 'base64').toString('utf8'));
}

test.serial('a run completes with its result computed from the database, and leaves nothing behind', async (t) => {
  const { run, result } = await runTask({ method: 'partial_average', kwargs: { column: 'age' } });
  t.is(run.status, 'completed', run.log ?? '');
  t.deepEqual(decoded(result), { sum: 120, count: 3 });
  t.regex(run.log ?? '', /running partial_average/);
  // The result reaches the server before the agent removes the run's objects.
  const objects = await waitFor('the run objects to be removed', async () => {
    const current = await nodeObjects(world, NODE);
    return current.jobs.length + current.secrets.length === 0 && current;
  });
  t.deepEqual(objects, { jobs: [], secrets: [] });
});

test.serial('a crashing algorithm is reported crashed with its log', async (t) => {
  const { run } = await runTask({ method: 'crash', kwargs: { code: 3 } });
  t.is(run.status, 'crashed');
  t.regex(run.log ?? '', /crash: failing on purpose/);
  t.regex(run.log ?? '', /exit code 3|exited with 3|code 3/);
});

test.serial('an image the policies do not allow is reported not allowed, without a Job', async (t) => {
  const { run, result } = await runTask({ method: 'echo' }, 'other-registry.example/evil:1');
  t.is(run.status, 'not allowed');
  t.regex(run.log ?? '', /not allowed/);
  t.is(result ?? null, null);
});

test.serial('an image no registry has is reported non-existing Docker image', async (t) => {
  const { run } = await runTask({ method: 'echo' }, 'v6-test/missing:1');
  t.is(run.status, 'non-existing Docker image');
});

test.serial('a run past its deadline is failed with a log that says so', async (t) => {
  const { run } = await runTask({ method: 'sleep', kwargs: { seconds: 30 } }, 'v6-test/algorithms:2');
  t.is(run.status, 'failed');
  t.regex(run.log ?? '', /deadline/);
});

test.serial('an input that is not JSON fails the run with a clear log', async (t) => {
  const task = await researcher.createTask({
    collaborationId: 1,
    organizations: [{ id: ORG, input: Buffer.from('not json').toString('base64') }],
    image: ALGORITHM_IMAGE,
    name: 'bad input',
  });
  const [run] = await researcher.waitForTask(task.id, { timeoutMs: 60_000 });
  t.is(run!.status, 'failed');
  t.regex(run!.log ?? '', /not JSON/);
});

test.serial('a running algorithm\'s log lines reach the server as algorithm_log while it runs', async (t) => {
  const { run } = await runTask({ method: 'sleep', kwargs: { seconds: 1 } });
  t.is(run.status, 'completed');
  const streamed = world.server.state.events
    .filter((e) => e.event === 'algorithm_log' && (e.data as { run_id: number }).run_id === run.id)
    .map((e) => (e.data as { log: string }).log);
  t.deepEqual(streamed, ['running sleep', 'sleeping 1 s']);
});

// A run's Secret is owned by its Job: deleting the Job lets the garbage collector take the Secret,
// so the agent deletes only the Job (it used to delete the Secret too and got a 404 per run).
// Denying the agent Secret deletes proves it never asks for one (issue 12, item 7).
import test from 'ava';
import { Queue } from 'bullmq';
import type { NodeAgent } from '../../agent/node-agent.js';
import { reportJobId } from '../../queue/run-queues.js';
import { startWorld, type World } from '../support/world.js';
import { assertNodeCleanedUp, createTask, finalPatches, researcherOf, scopeOf, serverRun, startAgent, waitFor } from './run-helpers.js';

const NODE = 1;
const ORG = 1;

let world: World;
let agent: NodeAgent | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await agent?.close();
  await world?.close();
});

test('a finished run is cleaned up with one Job delete: its Secret goes with the Job, never deleted by the agent', async (t) => {
  world.cluster.access.deny({ verb: 'delete', resource: 'secrets' });
  const deletes: string[] = [];
  world.cluster.store.on((event) => {
    if (event.type === 'DELETED' && (event.plural === 'secrets' || event.plural === 'jobs')) deletes.push(`${event.plural}/${event.object.metadata.name}`);
  });
  const config = world.config(NODE);
  agent = await startAgent(world, config);
  const researcher = await researcherOf(world);
  const task = await createTask(researcher, { method: 'echo', kwargs: { n: 1 }, organizationId: ORG, name: 'secret gc' });
  const [finished] = await researcher.waitForTask(task.id, { timeoutMs: 30_000 });
  t.is(finished!.status, 'completed');
  const run = serverRun(world, task.id, ORG)!;
  await assertNodeCleanedUp(t, world, NODE);
  const name = `v6-node-${NODE}-run-${run.id}`;
  t.deepEqual(deletes.filter((d) => d.endsWith(name)).sort(), [`jobs/${name}`, `secrets/${name}`]);
  // The report job finished: its clean-up met no refused Secret delete.
  const reports = new Queue('report', { prefix: config.queue.prefix, connection: { url: world.redisUrl } });
  t.teardown(() => reports.close());
  t.is(await waitFor('the report job completed', async () => (await reports.getJobState(reportJobId(scopeOf(config, NODE), run.id))) === 'completed' && 'completed'), 'completed');
  t.is(finalPatches(world, run.id).length, 1);
});

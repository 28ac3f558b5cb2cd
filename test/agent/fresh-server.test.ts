// A node whose Redis outlives its vantage6 server: a re-created server at the same address
// numbers its runs from 1 again, and those runs must run, not be taken for the old ones the queue
// remembers (issue 12, item 4).
import test from 'ava';
import { UserClient } from '../dev-server/user-client.js';
import { startDevServer, type DevServer } from '../dev-server/index.js';
import { startWorld, type World } from '../support/world.js';
import { assertNodeCleanedUp, createTask, finalPatches, recordJobsCreated, startAgent } from './run-helpers.js';

const NODE = 1; // organization 1 in the unencrypted collaboration 1
const ORG = 1;

let world: World;
let fresh: DevServer | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await fresh?.close();
  await world?.close();
});

async function researcherAt(server: DevServer): Promise<UserClient> {
  const researcher = new UserClient(`${server.url}${server.apiPath}`);
  // The first try after a server restart may meet a kept-alive connection the old server closed.
  await researcher.login('researcher-alpha', 'alpha-password').catch(() => researcher.login('researcher-alpha', 'alpha-password'));
  return researcher;
}

test('a re-created server at the same address: its run 1 runs although the queue remembers the old run 1', async (t) => {
  t.timeout(120_000);
  const config = world.config(NODE);
  const jobsCreated = recordJobsCreated(world);

  let agent = await startAgent(world, config);
  const before = await createTask(await researcherAt(world.server), { method: 'echo', kwargs: { server: 'old' }, organizationId: ORG, name: 'old server' });
  const [old] = await (await researcherAt(world.server)).waitForTask(before.id, { timeoutMs: 30_000 });
  t.is(old!.status, 'completed');
  await agent.close();

  // The same URL and node id, a new database: run and task ids start from 1 again.
  const port = world.server.port;
  await world.server.close();
  fresh = await startDevServer({ port });
  const researcher = await researcherAt(fresh);
  const again = await createTask(researcher, { method: 'echo', kwargs: { server: 'new' }, organizationId: ORG, name: 'new server' });
  const run = fresh.state.runsOfTask(again.id)[0]!;
  t.is(run.id, old!.id, 'the new server reuses the old run id');

  agent = await startAgent(world, config);
  t.teardown(() => agent.close());
  const [finished] = await researcher.waitForTask(again.id, { timeoutMs: 30_000 });
  t.is(finished!.status, 'completed', finished!.log ?? '');
  t.deepEqual(JSON.parse(Buffer.from(fresh.state.runs.get(run.id)!.result ?? '', 'base64').toString('utf8')), { server: 'new' });
  t.is(jobsCreated.filter((id) => id === run.id).length, 2, 'one Job for the old run 1 and one for the new');
  t.is(fresh.state.patches.filter((p) => p.run_id === run.id && typeof p.body === 'object' && p.body !== null && 'finished_at' in p.body).length, 1);
  t.is(finalPatches(world, run.id).length, 1, 'the old server got the old run\'s report only');
  await assertNodeCleanedUp(t, world, NODE);
});

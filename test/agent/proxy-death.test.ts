// The proxy sidecar dies (SIGKILL, as an OOM kill does) and stays down: the agent goes on
// unharmed — ready, the run whose algorithm was calling the proxy reported, new runs run
// (issue 12, item 2). The agent needs the proxy for nothing of its own.
import test from 'ava';
import type { NodeAgent } from '../../agent/node-agent.js';
import { CommandProcess, faultConfig, writeConfigFile } from '../faults/harness.js';
import { freePort } from '../support/ports.js';
import { PROXY_CALLER_IMAGE, startWorld, type World } from '../support/world.js';
import { createTask, researcherOf, serverRun, startAgent, waitFor, waitForRunStatus } from './run-helpers.js';

const NODE = 1;
const ORG = 1;

let world: World;
let agent: NodeAgent | undefined;
let proxy: CommandProcess | undefined;

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  await proxy?.kill('SIGKILL');
  await agent?.close();
  await world?.close();
});

test('the agent survives its proxy dying: still ready, the calling run reported, new runs run', async (t) => {
  t.timeout(120_000);
  const port = await freePort();
  const config = await faultConfig(world, NODE, { queue: { prefix: 'proxy-death-1' }, proxy: { url: 'http://127.0.0.1', port } });
  proxy = new CommandProcess(world, 'proxy', await writeConfigFile(world, config, 'proxy-death'), 'proxy-death');
  await waitFor('the proxy listening', () => fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false), 30_000);
  agent = await startAgent(world, config);
  const researcher = await researcherOf(world);

  const target = await createTask(researcher, { method: 'echo', kwargs: {}, organizationId: ORG, name: 'proxy target' });
  await researcher.waitForTask(target.id, { timeoutMs: 30_000 });
  const caller = await createTask(researcher, { method: 'call_proxy', kwargs: { seconds: 4, task_id: target.id }, image: PROXY_CALLER_IMAGE, organizationId: ORG, name: 'proxy caller' });
  await waitForRunStatus(world, caller.id, ORG, 'active');
  await proxy.kill('SIGKILL');

  const [called] = await researcher.waitForTask(caller.id, { timeoutMs: 60_000 });
  t.is(called!.status, 'completed', 'the caller saw retryable errors and finished');
  const seen = JSON.parse(Buffer.from(serverRun(world, caller.id, ORG)!.result ?? '', 'base64').toString('utf8')) as { ok: number; retryable: number; wrong: number };
  t.true(seen.retryable > 0, 'the algorithm saw the proxy go');
  t.is(seen.wrong, 0);

  const after = await createTask(researcher, { method: 'echo', kwargs: { after: true }, organizationId: ORG, name: 'after the proxy died' });
  const [done] = await researcher.waitForTask(after.id, { timeoutMs: 30_000 });
  t.is(done!.status, 'completed');
  t.deepEqual(await agent.health(), { loggedIn: true, socketConnected: true, redisReachable: true, clusterReachable: true, clusterAccess: true });
});

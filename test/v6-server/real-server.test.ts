// The agent against the real vantage6 server (PyPI, pinned in venv.ts): four nodes (two
// organizations, a plain and an encrypted collaboration) on the simulated cluster, a researcher
// on the server's REST API, inputs and results encoded and decoded by vantage6's own Python code.
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeAgent } from '../../agent/node-agent.js';
import { DummyCryptor, RsaCryptor } from '../../agent/protocol/encryption.js';
import { UserClient, type RunJson } from '../dev-server/user-client.js';
import { assertNodeCleanedUp, startAgent, waitFor } from '../agent/run-helpers.js';
import { startNodeProxy, type NodeProxy } from '../support/node-proxy.js';
import { freePort } from '../support/ports.js';
import { ALGORITHM_IMAGE, FEDERATED_IMAGE, startWorld, testLogger, type World } from '../support/world.js';
import { decodeResult, encodeInput, type CodecKey } from './codec.js';
import { COLD_START_MS, startRealServer, type RealServer } from './server.js';

interface KeyPair {
  private_key_pem: string;
  public_key_str: string;
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as { key_pairs: KeyPair[] };

let world: World<RealServer>;
let researcher: UserClient;
const agents: NodeAgent[] = [];
const proxies: NodeProxy[] = [];
/** Organization id → its private key file and the public key its node uploaded. */
const keys = new Map<number, CodecKey & { privateKeyPem: string }>();

const fixtures = () => world.server.fixtures;
const ALPHA = () => fixtures().organizations[0]!.id;
const BETA = () => fixtures().organizations[1]!.id;
const collaboration = (encrypted: boolean) => fixtures().collaborations.find((c) => c.encrypted === encrypted)!.id;
const nodeOf = (organizationId: number, encrypted: boolean) =>
  fixtures().nodes.find((n) => n.organization_id === organizationId && n.collaboration_id === collaboration(encrypted))!;

test.before(async (t) => {
  t.timeout(COLD_START_MS, 'the real vantage6 server did not start: see test/v6-server/venv.ts');
  world = await startWorld({ server: startRealServer });
  for (const [index, org] of fixtures().organizations.entries()) {
    const pair = vectors.key_pairs[index]!;
    const privateKeyFile = join(world.root, `org${org.id}-private.pem`);
    await writeFile(privateKeyFile, pair.private_key_pem, { mode: 0o600 });
    keys.set(org.id, { privateKeyFile, publicKey: pair.public_key_str, privateKeyPem: pair.private_key_pem });
  }
  for (const node of fixtures().nodes) {
    const key = node.collaboration_id === collaboration(true) ? keys.get(node.organization_id)! : undefined;
    const port = await freePort();
    const config = world.config(node.id, {
      encryption: key ? { enabled: true, private_key: key.privateKeyFile } : { enabled: false },
      proxy: { url: 'http://127.0.0.1', port, listen_port: port },
    });
    proxies.push(await startNodeProxy(config, key ? RsaCryptor.fromPem(key.privateKeyPem) : new DummyCryptor(), testLogger(), 500));
    agents.push(await startAgent(world, config));
  }
  const user = fixtures().users.find((u) => u.organization_id === ALPHA())!;
  researcher = new UserClient(`${world.server.url}${world.server.apiPath}`);
  await researcher.login(user.username, user.password);
});

test.after.always(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await world?.close();
});

/** A task for `organizations` (each gets the same input), created by the researcher of Alpha. */
async function createTask(options: { encrypted: boolean; organizations: number[]; value: unknown; image?: string; name: string }) {
  const organizations = [];
  for (const id of options.organizations) {
    organizations.push({ id, input: await encodeInput(world.server.python, options.value, options.encrypted ? keys.get(id) : undefined) });
  }
  return researcher.createTask({
    collaborationId: collaboration(options.encrypted),
    organizations,
    image: options.image ?? ALGORITHM_IMAGE,
    name: options.name,
    databases: [{ label: 'default' }],
  });
}

/** The result of the task's only run, decoded as vantage6's client does (with Alpha's key when encrypted). */
async function resultOf(taskId: number, encrypted: boolean): Promise<unknown> {
  const [result] = await researcher.getResults(taskId);
  if (typeof result?.result !== 'string' || result.result === '') throw new Error(`task ${taskId} has no result: ${JSON.stringify(result)}`);
  return decodeResult(world.server.python, result.result, encrypted ? keys.get(ALPHA())!.privateKeyFile : undefined);
}

function assertCompleted(t: ExecutionContext, runs: RunJson[]) {
  for (const run of runs) t.is(run.status, 'completed', `run ${run.id}: ${run.log ?? ''}`);
}

test.serial('every node logs in with its API key, is online once its socket is synced, and shared its configuration', async (t) => {
  for (const node of fixtures().nodes.filter((n) => n.organization_id === ALPHA())) {
    // The server stores node_info_update as key/value rows, a row per list item.
    const seen = await waitFor(`node ${node.id} online with its configuration`, async () => {
      const answer = await researcher.request<{ status: string; config: { key: string; value: string }[] }>('GET', `node/${node.id}`);
      return answer.status === 'online' && answer.config.length > 0 ? answer : undefined;
    });
    t.deepEqual(seen.config.filter((c) => c.key === 'database_labels'), [{ key: 'database_labels', value: 'default' }], `node ${node.id}`);
  }
});

test.serial('the encrypted nodes uploaded their organizations\' public keys', async (t) => {
  for (const org of fixtures().organizations) {
    const answer = await researcher.request<{ public_key: string }>('GET', `organization/${org.id}`);
    t.is(answer.public_key, keys.get(org.id)!.publicKey, `organization ${org.id}`);
  }
});

test.serial('a task runs and its result, log, status and times arrive at the server', async (t) => {
  const task = await createTask({ encrypted: false, organizations: [ALPHA()], value: { method: 'partial_average', kwargs: { column: 'age' } }, name: 'plain' });
  const runs = await researcher.waitForTask(task.id, { timeoutMs: 30_000 });
  assertCompleted(t, runs);
  const [run] = runs;
  t.regex(String(run!.started_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  t.regex(String(run!.finished_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  t.deepEqual(await resultOf(task.id, false), { sum: 120, count: 3 });
});

for (const encrypted of [false, true]) {
  test.serial(`a federated task with subtasks through the proxy across both organizations (${encrypted ? 'encrypted' : 'plain'})`, async (t) => {
    const value = {
      method: 'central_average',
      kwargs: { column: 'age', organizations: [ALPHA(), BETA()], collaboration_id: collaboration(encrypted), image: FEDERATED_IMAGE },
    };
    const task = await createTask({ encrypted, organizations: [ALPHA()], value, image: FEDERATED_IMAGE, name: `federated ${encrypted}` });
    assertCompleted(t, await researcher.waitForTask(task.id, { timeoutMs: 60_000 }));
    const result = (await resultOf(task.id, encrypted)) as { mean: number; sum: number; count: number; subtask_id: number };
    t.like(result, { mean: 40, sum: 200, count: 5 });

    const subtask = await researcher.getTask(result.subtask_id);
    t.is(subtask.parent?.id, task.id);
    const subruns = await researcher.getRuns(subtask.id);
    assertCompleted(t, subruns);
    t.deepEqual(subruns.map((r) => r.organization.id).sort(), [ALPHA(), BETA()].sort());
  });
}

test.serial('kill of a running task: the run is killed by user at the server and its Job and Secret are gone', async (t) => {
  const task = await createTask({ encrypted: false, organizations: [ALPHA()], value: { method: 'sleep', kwargs: { seconds: 60 } }, name: 'kill' });
  await waitFor('the run active', async () => (await researcher.getRuns(task.id))[0]?.status === 'active', 30_000);
  await researcher.kill(task.id);
  const [run] = await researcher.waitForTask(task.id, { timeoutMs: 20_000 });
  t.is(run!.status, 'killed by user');
  await assertNodeCleanedUp(t, world, nodeOf(ALPHA(), false).id);
});

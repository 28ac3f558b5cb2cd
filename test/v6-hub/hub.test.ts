// The 5.0 hub harness's proof, against the real hub (hub.ts): a node's Keycloak client gets a
// token with the client-credentials grant and HQ takes it for the node's own record; a
// researcher's task, created with vantage6's Python client 5.0.3, gives the node an open run. And
// the agent's own client and socket against it (issue 14): Keycloak login, node/me, the version
// check, sync and new_task_update.
import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { AuthRejectedError, ServerVersionError } from '../../agent/errors.js';
import { ServerClient, serverEndpoints } from '../../agent/server/client.js';
import { ServerSocket } from '../../agent/server/socket.js';
import { until } from '../dev-server/testkit.js';
import { HqClient, loginPerson, type HubNode } from './fixtures.js';
import { clientCredentialsToken } from './keycloak-auth.js';
import { COLD_START_MS, startRealHub, type RealHub } from './hub.js';

const run = promisify(execFile);
const logger = pino({ level: process.env.V6_TEST_LOG ?? 'silent' });
const researcherScript = fileURLToPath(new URL('researcher.py', import.meta.url));

let hub: RealHub;
const api = () => `${hub.url}${hub.apiPath}`;

async function asNode(name: string): Promise<HqClient> {
  const node = hub.fixtures.nodes.find((n) => n.name === name)!;
  const token = await clientCredentialsToken(hub.keycloakUrl, hub.realm, node.client_id, node.client_secret);
  return new HqClient(api(), token.access_token);
}

test.before(async (t) => {
  t.timeout(COLD_START_MS, 'the real vantage6 5.0 hub did not start: see test/v6-hub/hub.ts');
  hub = await startRealHub();
});

test.after.always(async () => {
  await hub?.close();
});

test('each node gets a token from Keycloak with its client credentials, and HQ answers node/me with its own record', async (t) => {
  for (const node of hub.fixtures.nodes) {
    const token = await clientCredentialsToken(hub.keycloakUrl, hub.realm, node.client_id, node.client_secret);
    const claims = JSON.parse(Buffer.from(token.access_token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    t.is(claims.azp, node.client_id);
    t.is(claims.vantage6_client_type, 'node', 'HQ tells nodes from users by this claim, which HQ puts on the clients it makes for nodes');
    const me = await new HqClient(api(), token.access_token).request<{ id: number; name: string; organization: { id: number }; collaboration: { id: number } }>('GET', 'node/me');
    t.is(me.id, node.id, node.name);
    t.is(me.name, node.name);
    t.is(me.organization.id, node.organization_id);
    t.is(me.collaboration.id, node.collaboration_id);
  }
});

test('Keycloak refuses a node client with a wrong secret, and HQ refuses node/me without a token or to a person', async (t) => {
  const node = hub.fixtures.nodes[0]!;
  await t.throwsAsync(clientCredentialsToken(hub.keycloakUrl, hub.realm, node.client_id, `${node.client_secret}x`), { message: /refused/ });
  const anonymous = await fetch(`${api()}/node/me`);
  t.is(anonymous.status, 401);
  const person = hub.fixtures.users.find((u) => u.password)!;
  const researcher = await loginPerson(api(), hub.keycloakUrl, hub.realm, person.username, person.password!);
  const me = await researcher.request<{ username: string; organization: { id: number } }>('GET', 'user/me');
  t.is(me.username, person.username);
  t.is(me.organization.id, person.organization_id);
  // HQ 5.0.3 answers a person's token on node/me with 500 (its with_node check), not a 4xx: what
  // matters here is that it does not hand out a node's record.
  const asPerson = await fetch(`${api()}/node/me`, { headers: { authorization: `Bearer ${researcher.token}` } });
  t.true(asPerson.status >= 400, `HQ answered a person's node/me with ${asPerson.status}`);
});

/** A task for `node`'s organization in the plain collaboration, made by the researcher script with vantage6's Python client 5.0.3. */
async function researcherTask(node: HubNode): Promise<number> {
  const script = hub.fixtures.users.find((u) => u.client_secret && u.organization_id === node.organization_id)!;
  const { stdout } = await run(hub.python, [
    researcherScript,
    JSON.stringify({
      hq_url: api(),
      auth_url: hub.keycloakUrl,
      realm: hub.realm,
      username: script.username,
      client_secret: script.client_secret,
      collaboration_id: node.collaboration_id,
      organization_ids: [node.organization_id],
      image: 'harbor2.vantage6.ai/demo/average',
      method: 'partial_average',
      arguments: { column_name: 'age' },
    }),
  ]).catch(async (error: Error & { stderr?: string }) => {
    throw new Error(`the researcher's script failed: ${error.stderr ?? error.message}\n${(await hub.log()).slice(-3000)}`);
  });
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { task: { id: number } }).task.id;
}

/** The node of the plain collaboration in the researcher script's organization. */
function plainNode(): HubNode {
  const plain = hub.fixtures.collaborations.find((c) => !c.encrypted)!;
  const script = hub.fixtures.users.find((u) => u.client_secret)!;
  return hub.fixtures.nodes.find((n) => n.collaboration_id === plain.id && n.organization_id === script.organization_id)!;
}

test("a researcher's task, made with vantage6's Python client 5.0.3, is an open run for the node", async (t) => {
  const node = plainNode();
  const taskId = await researcherTask(node);

  const asTheNode = await asNode(node.name);
  const open = await asTheNode.request<{ data: { id: number; task: { id: number } | number; organization: { id: number } }[] }>(
    'GET',
    `run?state=open&node_id=${node.id}&include=task`,
  );
  const runs = open.data.filter((r) => (typeof r.task === 'number' ? r.task : r.task.id) === taskId);
  t.is(runs.length, 1, JSON.stringify(open.data));
  t.is(runs[0]!.organization.id, node.organization_id);

  // The other organization's node in the collaboration has no run for it: the task was for one organization.
  const other = hub.fixtures.nodes.find((n) => n.collaboration_id === node.collaboration_id && n.organization_id !== node.organization_id)!;
  const theirs = await (await asNode(other.name)).request<{ data: { task: { id: number } | number }[] }>('GET', `run?state=open&node_id=${other.id}&include=task`);
  t.false(theirs.data.some((r) => (typeof r.task === 'number' ? r.task : r.task.id) === taskId));
});

/** The agent's own client for `node`, configured as a 5 node's config gives it (issue 14). */
function agentClient(node: HubNode, overrides: { apiKey?: string; protocol?: 4 | 5 } = {}): ServerClient {
  return new ServerClient({
    endpoints: serverEndpoints(hub.url, undefined, hub.apiPath),
    apiKey: overrides.apiKey ?? node.client_secret,
    protocol: overrides.protocol ?? 5,
    keycloak: { url: hub.keycloakUrl, realm: hub.realm, nodeName: node.name },
    logger,
  });
}

test("the agent's client logs in through Keycloak and reads itself from node/me; a wrong secret names the keys to check; a 4.x config is refused by HQ's version", async (t) => {
  const node = plainNode();
  const identity = await agentClient(node).login();
  t.like(identity, { nodeId: node.id, nodeName: node.name, organizationId: node.organization_id, collaborationId: node.collaboration_id });
  t.is(identity.organizationName, hub.fixtures.organizations.find((o) => o.id === node.organization_id)!.name);

  const refused = await t.throwsAsync(agentClient(node, { apiKey: `${node.client_secret}x` }).login(), { instanceOf: AuthRejectedError });
  t.regex(refused.message, new RegExp(`refused client ${node.name}-node-client .*check name \\(or V6_NODE_NAME\\), api_key`));
  const mismatch = await t.throwsAsync(agentClient(node, { protocol: 4 }).login(), { instanceOf: ServerVersionError });
  t.regex(mismatch.message, /is vantage6 5\.0\.3, but the config is for vantage6 4: for a vantage6 5 hub set hq_url, name and keycloak/);
});

test("the agent's socket is accepted by HQ (sync) with its Keycloak token, and a researcher's new task reaches it as new_task_update", async (t) => {
  const node = plainNode();
  const client = agentClient(node);
  await client.login();
  const seen: { syncs: number; tasks: number[]; fatal: unknown[] } = { syncs: 0, tasks: [], fatal: [] };
  const socket = new ServerSocket({
    client,
    logger,
    handlers: {
      onSync: () => (seen.syncs += 1),
      onNewTask: (event) => seen.tasks.push(event.id),
      onKillContainers: () => {},
      onFatal: (error) => seen.fatal.push(error),
      onStateChange: () => {},
    },
  });
  t.teardown(() => socket.close());
  socket.start();
  await until(() => seen.syncs >= 1, 30_000);
  const taskId = await researcherTask(node);
  await until(() => seen.tasks.includes(taskId), 30_000);
  t.deepEqual(seen.fatal, []);
});

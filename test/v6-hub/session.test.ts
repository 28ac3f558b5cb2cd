// The agent as a vantage6 5 node against the real hub (HQ 5.0.3 + Keycloak 26, hub.ts), on the
// simulated cluster: four nodes (two organizations, a plain and an encrypted collaboration), each
// with its proxy. A researcher with vantage6's Python client 5.0.3 (session_flow.py) opens a
// session, extracts a dataframe at both organizations, preprocesses it and runs a central
// average whose subtasks reach both organizations through the proxies; the algorithm is
// test/algorithms/v6_session on vantage6-algorithm-tools 5.0.3. Then what else a 5 node must do:
// kill, a missing dataframe, a dataframe deleted, HQ restarting while a run finishes, and the
// nodes' Keycloak tokens living 10 s (set before the nodes start, so every test runs on them).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { access, cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../../agent/config.js';
import type { NodeAgent } from '../../agent/node-agent.js';
import { DummyCryptor, RsaCryptor } from '../../agent/protocol/encryption.js';
import { ensureReachablePython } from '../algorithms/reachable-python.js';
import { SESSION_PACKAGE_ROOT, sessionImage, V6_SESSION_IMAGE } from '../algorithms/session-image.js';
import { startAgent, waitFor } from '../agent/run-helpers.js';
import type { Fixtures } from '../dev-server/state/fixtures.js';
import { startNodeProxy, type NodeProxy } from '../support/node-proxy.js';
import { freePort } from '../support/ports.js';
import { startWorld, testLogger, type V6Server, type World } from '../support/world.js';
import { loginPerson, type HqClient, type HubNode } from './fixtures.js';
import { HUB_ADMIN } from './realm.js';
import type { KeycloakAdmin } from './keycloak-admin.js';
import { COLD_START_MS, startRealHub, type RealHub } from './hub.js';
import {
  assertSessionFlowCompleted,
  dataframeTask,
  resultsOf as resultsAt,
  runsOf as runsAt,
  scriptClient,
  scriptUser,
  sessionFlow as flowAt,
  shortLivedNodeTokens,
  type Flow,
  type RunJson,
} from './session-flow.js';

interface KeyPair {
  private_key_pem: string;
  public_key_str: string;
}
const vectors = JSON.parse(readFileSync(new URL('../fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as { key_pairs: KeyPair[] };

type HubServer = V6Server & { hub: RealHub };
let world: World<HubServer>;
const agents: NodeAgent[] = [];
/** Each node's config, in the order of the hub's fixtures' nodes (as `agents`). */
const configs: Config[] = [];
const proxies: NodeProxy[] = [];
const keyFiles = new Map<number, string>();
let researcher: HqClient;
let keycloakAdmin: KeycloakAdmin;
/** The nodes' access-token lifetime: far below a session's length, so tokens expire during runs. */
const NODE_TOKEN_SECONDS = 10;

const hub = () => world.server.hub;
const api = () => `${hub().url}${hub().apiPath}`;
const collaboration = (encrypted: boolean) => hub().fixtures.collaborations.find((c) => c.encrypted === encrypted)!.id;
const nodesOf = (encrypted: boolean) => hub().fixtures.nodes.filter((n) => n.collaboration_id === collaboration(encrypted));

/** The hub as a world's server: its organizations, and its nodes with their client secret as API key. */
async function hubServer(): Promise<HubServer> {
  const started = await startRealHub();
  const port = Number(new URL(started.url).port);
  const fixtures = {
    organizations: started.fixtures.organizations,
    nodes: started.fixtures.nodes.map((node) => ({ ...node, api_key: node.client_secret })),
  } as unknown as Fixtures;
  return { url: started.url, apiPath: started.apiPath, port, fixtures, hub: started, close: () => started.close() };
}

/** A 5 node's config as an admin writes it: hq_url, name, keycloak and the client secret as api_key. */
function nodeConfig(node: HubNode, overrides: Record<string, unknown>): Config {
  const { server_url: _url, port: _port, ...input } = world.configInput(node.id, overrides);
  return parseConfig(
    stringify({ ...input, hq_url: hub().url, api_path: hub().apiPath, name: node.name, keycloak: { url: hub().keycloakUrl, realm: hub().realm } }),
    {},
  ).config;
}

test.before(async (t) => {
  t.timeout(COLD_START_MS, 'the real vantage6 5.0 hub did not start: see test/v6-hub/hub.ts');
  const python = await ensureReachablePython();
  world = await startWorld({
    server: hubServer,
    // The package goes into the world (readable by the algorithms' user, not below /tmp).
    images: async (root) => {
      await cp(join(SESSION_PACKAGE_ROOT, 'v6_session'), join(root, 'image', 'v6_session'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
      return { [V6_SESSION_IMAGE]: sessionImage(python, join(root, 'image')) };
    },
  });
  for (const [index, org] of hub().fixtures.organizations.entries()) {
    const file = join(world.root, `org${org.id}-private.pem`);
    await writeFile(file, vectors.key_pairs[index]!.private_key_pem, { mode: 0o600 });
    keyFiles.set(org.id, file);
  }
  keycloakAdmin = await shortLivedNodeTokens(hub(), NODE_TOKEN_SECONDS);
  for (const node of hub().fixtures.nodes) {
    const encrypted = node.collaboration_id === collaboration(true);
    const port = await freePort();
    const config = nodeConfig(node, {
      encryption: encrypted ? { enabled: true, private_key: keyFiles.get(node.organization_id) } : { enabled: false },
      proxy: { url: 'http://127.0.0.1', port, listen_port: port },
    });
    const index = hub().fixtures.organizations.findIndex((o) => o.id === node.organization_id);
    const cryptor = encrypted ? RsaCryptor.fromPem(vectors.key_pairs[index]!.private_key_pem) : new DummyCryptor();
    proxies.push(await startNodeProxy(config, cryptor, testLogger(), 500));
    configs.push(config);
    agents.push(await startAgent(world, config));
  }
  // The service account session_flow.py logs in as: its sessions are its own (scope "own").
  researcher = await scriptClient(hub());
});

test.after.always(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await world?.close();
});

/** session_flow.py in a collaboration, as the researcher-script service account of the first organization. */
function sessionFlow(encrypted: boolean): Promise<Flow> {
  const privateKeyFile = encrypted ? keyFiles.get(scriptUser(hub()).organization_id) : undefined;
  return flowAt(hub(), { collaborationId: collaboration(encrypted), image: V6_SESSION_IMAGE, ...(privateKeyFile === undefined ? {} : { privateKeyFile }), timeoutSeconds: 90 });
}

/** The dataframe's file on an organization's task volume (sessions/session{id:09d}/<name>.parquet). */
function dataframeFile(organizationId: number, session: number, name: string): string {
  const tasks = world.configInput(nodesOf(false).find((n) => n.organization_id === organizationId)!.id).kubernetes as { task_volume: { mount_path: string } };
  return join(tasks.task_volume.mount_path, 'sessions', `session${String(session).padStart(9, '0')}`, `${name}.parquet`);
}

for (const encrypted of [false, true]) {
  test.serial(`${encrypted ? 'encrypted' : 'plain'} collaboration: a session's extraction, preprocessing and central average with subtasks through both proxies`, async (t) => {
    const flow = await sessionFlow(encrypted);
    assertSessionFlowCompleted(t, flow);
    for (const org of hub().fixtures.organizations) {
      if (encrypted) continue; // the plain collaboration's volumes are the ones the world names; both share them per organization
      await t.notThrowsAsync(access(dataframeFile(org.id, flow.session, flow.dataframe.name)), `organization ${org.id}`);
    }
  });
}

/** A federated_compute task of the researcher at one organization on the session's dataframe (plain collaboration). */
function onDataframe(flow: Flow, organizationId: number, method: string, args: Record<string, unknown>, name = method): Promise<number> {
  return dataframeTask(researcher, { image: V6_SESSION_IMAGE, collaborationId: collaboration(false), flow, organizationId, method, arguments: args, name });
}

function runsOf(taskId: number): Promise<RunJson[]> {
  return runsAt(researcher, taskId);
}

/** The task's runs once every one has finished. */
function finishedRuns(taskId: number, timeoutMs?: number): Promise<RunJson[]> {
  return waitFor(`task ${taskId}'s runs finished`, async () => {
    const runs = await runsOf(taskId);
    return runs.every((r) => r.finished_at) ? runs : undefined;
  }, timeoutMs);
}

function resultsOf(taskId: number): Promise<unknown[]> {
  return resultsAt(researcher, taskId);
}

/** A `sleep` run at one organization on the session's dataframe. */
function sleepTask(flow: Flow, organizationId: number, seconds: number): Promise<number> {
  return onDataframe(flow, organizationId, 'sleep', { seconds }, `sleep ${seconds} s`);
}

test.serial('a killed run is "killed by user"; a run on a dataframe the node does not hold is "dataframe not found"; a deleted dataframe leaves the nodes', async (t) => {
  const flow = await sessionFlow(false);
  const [alpha] = hub().fixtures.organizations;

  // Killed while it sleeps.
  const sleeping = await sleepTask(flow, alpha!.id, 600);
  await waitFor('the sleeping run active', async () => (await runsOf(sleeping)).every((r) => r.status === 'active'), 60_000);
  // A researcher may not kill (the Researcher role lacks it); the hub's root user may.
  const admin = await loginPerson(api(), hub().keycloakUrl, hub().realm, HUB_ADMIN.username, HUB_ADMIN.password);
  await admin.request('POST', 'kill/task', { id: sleeping });
  const killed = await waitFor('the kill', async () => {
    const runs = await runsOf(sleeping);
    return runs.every((r) => r.status === 'killed by user') ? runs : undefined;
  });
  t.is(killed.length, 1);
  await waitFor('the killed run\'s Job gone', async () => {
    const jobs = await world.kubeConfig.makeApiClient((await import('@kubernetes/client-node')).BatchV1Api).listNamespacedJob({ namespace: 'vantage6-tasks' });
    return jobs.items.every((job) => job.metadata?.annotations?.['vantage6.ai/task-id'] !== String(sleeping));
  });

  // A node that lost the dataframe (its volume restored from an older backup, say): the run is
  // "dataframe not found", and the log says which.
  const [, beta] = hub().fixtures.organizations;
  await rm(dataframeFile(alpha!.id, flow.session, flow.dataframe.name));
  const lost = await onDataframe(flow, alpha!.id, 'partial_sum', { column: 'age' }, 'sum of a dataframe the node lost');
  const [notFound] = await finishedRuns(lost);
  t.is(notFound!.status, 'dataframe not found', notFound!.log ?? '');
  t.regex(notFound!.log ?? '', new RegExp(`Session ${flow.session} has no dataframe '${flow.dataframe.name}' on this node`));

  // Deleted by the researcher: the other node removes its file (and answers dataframe_deleted);
  // HQ then refuses tasks on it.
  const file = dataframeFile(beta!.id, flow.session, flow.dataframe.name);
  await access(file);
  await researcher.request('DELETE', `session/dataframe/${flow.dataframe.id}`);
  await waitFor('the dataframe file removed', () => access(file).then(() => false, () => true));
  const refused = await t.throwsAsync(onDataframe(flow, beta!.id, 'partial_sum', { column: 'age' }, 'sum of a deleted dataframe'));
  t.regex(refused.message, /[Dd]ataframe/);
});

test.serial('a node that was away while a dataframe was deleted deletes it when it is back, though the hub never tells it', async (t) => {
  const flow = await sessionFlow(false);
  const [alpha, beta] = hub().fixtures.organizations;
  const away = hub().fixtures.nodes.findIndex((n) => n.organization_id === alpha!.id && n.collaboration_id === collaboration(false));
  const awayFile = dataframeFile(alpha!.id, flow.session, flow.dataframe.name);
  const onlineFile = dataframeFile(beta!.id, flow.session, flow.dataframe.name);
  await agents[away]!.close();
  await researcher.request('DELETE', `session/dataframe/${flow.dataframe.id}`);
  await waitFor('the online node\'s file removed', () => access(onlineFile).then(() => false, () => true));
  t.true(await access(awayFile).then(() => true, () => false), 'nobody touched the away node\'s volume');
  // Back: the hub re-sends delete_dataframe before the node is in the collaboration's room; the
  // node finds the dataframe gone from the session's list at sync.
  agents[away] = await startAgent(world, configs[away]!);
  await waitFor('the away node\'s file removed', () => access(awayFile).then(() => false, () => true));
  t.false(await access(awayFile).then(() => true, () => false));
});

/** The Jobs of a task in the simulated cluster's task namespace. */
async function jobsOf(taskId: number) {
  const { BatchV1Api } = await import('@kubernetes/client-node');
  const jobs = await world.kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: 'vantage6-tasks' });
  return jobs.items.filter((job) => job.metadata?.annotations?.['vantage6.ai/task-id'] === String(taskId));
}

test.serial('HQ restarts while a run finishes: the node reports it once HQ is back, and takes new runs of the session', async (t) => {
  const flow = await sessionFlow(false);
  const [alpha] = hub().fixtures.organizations;
  const sleeping = await sleepTask(flow, alpha!.id, 8);
  await waitFor('the sleeping run active', async () => (await runsOf(sleeping)).every((r) => r.status === 'active'), 60_000);
  await hub().restartHq(async () => {
    // The run ends while HQ is down: its Job succeeds, and the node has nobody to tell.
    await waitFor('the Job succeeded with HQ down', async () => (await jobsOf(sleeping)).some((job) => (job.status?.succeeded ?? 0) > 0), 60_000);
  });
  const [done] = await finishedRuns(sleeping, 60_000);
  t.is(done!.status, 'completed', done!.log ?? '');
  t.deepEqual(await resultsOf(sleeping), [{ slept: 8 }]);
  // The node is back on HQ's socket: a new run of the session is taken and done.
  const sum = await onDataframe(flow, alpha!.id, 'partial_sum', { column: 'age' }, 'sum after the restart');
  const [summed] = await finishedRuns(sum, 60_000);
  t.is(summed!.status, 'completed', summed!.log ?? '');
  t.deepEqual(await resultsOf(sum), [{ sum: 120, count: 3 }]);
});

test.serial(`tokens of ${NODE_TOKEN_SECONDS} s expire during a run three times as long: the node reports the run with a token renewed at Keycloak, and does not loop`, async (t) => {
  const flow = await sessionFlow(false);
  const [alpha] = hub().fixtures.organizations;
  const node = nodesOf(false).find((n) => n.organization_id === alpha!.id)!;
  const started = Date.now();
  const sleeping = await sleepTask(flow, alpha!.id, 3 * NODE_TOKEN_SECONDS);
  const [done] = await finishedRuns(sleeping, 120_000);
  t.is(done!.status, 'completed', done!.log ?? '');
  t.deepEqual(await resultsOf(sleeping), [{ slept: 3 * NODE_TOKEN_SECONDS }]);
  // Keycloak's own record. The node talks to HQ when the run starts and when it ends, not in
  // between; the token it held at the start had expired by the end, so it reported with one it
  // obtained later. And no renewal loop: a token or two for the whole run.
  const grants = (await keycloakAdmin.events('CLIENT_LOGIN', node.client_id)).filter((e) => e.time >= started);
  t.true(grants.length >= 1 && grants.length <= 3, `the node obtained ${grants.length} tokens during a ${3 * NODE_TOKEN_SECONDS}-s run`);
  t.true(grants.at(-1)!.time - started >= 2 * NODE_TOKEN_SECONDS * 1000, 'the run reported with a token obtained after two lifetimes');
});

// A researcher of the real 5.0 hub (hub.ts), as the session tests use one whatever runs the nodes
// (agents on the simulated cluster, sites on the real one): session_flow.py with vantage6's Python
// client 5.0.3 as the `researcher-script` service account, and that account's REST calls; and the
// nodes' short-lived Keycloak tokens both tiers run on.
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HqClient, type HubUser } from './fixtures.js';
import type { RealHub } from './hub.js';
import { KeycloakAdmin } from './keycloak-admin.js';
import { clientCredentialsToken } from './keycloak-auth.js';

const run = promisify(execFile);
const flowScript = fileURLToPath(new URL('session_flow.py', import.meta.url));

export interface FlowRun {
  id: number;
  status: string;
  log: string | null;
  action: string;
}

/** What session_flow.py prints: the session, the dataframe after each step, the tasks with their runs, the central result. */
export interface Flow {
  session: number;
  dataframe: { id: number; name: string; after_preprocessing: { columns: { name: string; dtype: string; node?: { id: number } | null }[] } };
  tasks: Record<string, { id: number; runs: FlowRun[] }>;
  result: unknown[];
}

export interface RunJson {
  id: number;
  status: string;
  log: string | null;
  finished_at: string | null;
}

/** The service account of the first organization: its sessions are its own (scope "own"). */
export function scriptUser(hub: RealHub): HubUser {
  return hub.fixtures.users.find((u) => u.client_secret)!;
}

/** An HQ client as the service account, with a fresh token (the realm's tokens live 5 minutes). */
export async function scriptClient(hub: RealHub): Promise<HqClient> {
  const script = scriptUser(hub);
  const token = await clientCredentialsToken(hub.keycloakUrl, hub.realm, script.client_id!, script.client_secret!);
  return new HqClient(`${hub.url}${hub.apiPath}`, token.access_token);
}

export interface SessionFlowOptions {
  collaborationId: number;
  /** The algorithm image as HQ and the nodes name it. */
  image: string;
  /** The service account's organization's private key, for an encrypted collaboration. */
  privateKeyFile?: string;
  /** How long each task may take to finish. */
  timeoutSeconds: number;
}

/** session_flow.py in a collaboration; its failure carries the end of HQ's log. */
export async function sessionFlow(hub: RealHub, options: SessionFlowOptions): Promise<Flow> {
  const script = scriptUser(hub);
  const { stdout } = await run(hub.python, [
    flowScript,
    JSON.stringify({
      hq_url: `${hub.url}${hub.apiPath}`,
      auth_url: hub.keycloakUrl,
      realm: hub.realm,
      username: script.username,
      client_secret: script.client_secret,
      collaboration_id: options.collaborationId,
      image: options.image,
      label: 'default',
      ...(options.privateKeyFile === undefined ? {} : { private_key: options.privateKeyFile }),
      timeout: options.timeoutSeconds,
    }),
  ]).catch(async (error: Error & { stderr?: string }) => {
    throw new Error(`the session flow failed: ${error.stderr ?? error.message}\n${(await hub.log()).slice(-3000)}`);
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Flow;
}

/** Task arguments as HQ holds them in a plain collaboration: base64 of the JSON. */
/**
 * What every node must give for session_flow.py, whatever the cluster: each run completed, all
 * four actions run, the average of the ages 20, 30, 40, 50, 60 in months, and each of the two
 * nodes' columns reported as pyarrow names their types.
 */
export function assertSessionFlowCompleted(t: ExecutionContext, flow: Flow): void {
  for (const [what, task] of Object.entries(flow.tasks)) {
    t.is(task.runs.length, what === 'central' ? 1 : 2, `${what}: ${JSON.stringify(task.runs)}`);
    for (const r of task.runs) t.is(r.status, 'completed', `${what} run ${r.id}: ${r.log ?? ''}`);
  }
  t.deepEqual(new Set(Object.values(flow.tasks).flatMap((task) => task.runs.map((r) => r.action))), new Set(['data_extraction', 'preprocessing', 'central_compute', 'federated_compute']));
  t.deepEqual(flow.result, [{ average: 480, sum: 2400, count: 5, organizations: 2 }]);
  const columns = flow.dataframe.after_preprocessing.columns;
  t.deepEqual([...new Set(columns.map((c) => `${c.name}:${c.dtype}`))].sort(), ['age:int64', 'age_months:int64', 'id:int64']);
  t.is(columns.length, 6, 'three columns from each of the two nodes');
}

export const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

export async function runsOf(client: HqClient, taskId: number): Promise<RunJson[]> {
  return (await client.request<{ data: RunJson[] }>('GET', `run?task_id=${taskId}`)).data;
}

/** A plain collaboration's results (base64 of the JSON the algorithm returned). */
export async function resultsOf(client: HqClient, taskId: number): Promise<unknown[]> {
  const { data } = await client.request<{ data: { result: string | null }[] }>('GET', `result?task_id=${taskId}`);
  return data.map((r) => (r.result ? JSON.parse(Buffer.from(r.result, 'base64').toString('utf8')) : null));
}

export interface DataframeTask {
  image: string;
  /** A plain collaboration: the arguments are sent readable. */
  collaborationId: number;
  /** The session and the dataframe the run works on. */
  flow: Flow;
  organizationId: number;
  method: string;
  arguments: Record<string, unknown>;
  name?: string;
}

/** A federated_compute task at one organization on a session's dataframe; its id. */
export async function dataframeTask(client: HqClient, task: DataframeTask): Promise<number> {
  const created = await client.request<{ id: number }>('POST', 'task', {
    name: task.name ?? task.method,
    image: task.image,
    collaboration_id: task.collaborationId,
    session_id: task.flow.session,
    method: task.method,
    action: 'federated_compute',
    organizations: [{ id: task.organizationId, arguments: base64Json(task.arguments) }],
    databases: [[{ dataframe_id: task.flow.dataframe.id, type: 'dataframe' }]],
  });
  return created.id;
}

/**
 * Gives every node's Keycloak client access tokens of `seconds` (an institution's Keycloak admin
 * may set any lifetime) and has Keycloak record each client-credentials grant, so a test can see
 * the nodes renew. Set before the nodes start, so every test runs on them.
 */
export async function shortLivedNodeTokens(hub: RealHub, seconds: number): Promise<KeycloakAdmin> {
  const admin = new KeycloakAdmin(hub.keycloakUrl, hub.realm);
  await admin.recordEvents(['CLIENT_LOGIN']);
  for (const node of hub.fixtures.nodes) await admin.setAccessTokenLifespan(node.client_id, seconds);
  return admin;
}

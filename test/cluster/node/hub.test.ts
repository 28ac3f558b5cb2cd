// The whole node against the real vantage6 5.0 hub on the real cluster (hub-world.ts): the session
// of test/v6-hub/session.test.ts, with vantage6's Python client 5.0.3 as the researcher and the
// v6_session image on vantage6-algorithm-tools 5.0.3, run by sites installed with Helm; the nodes'
// Keycloak tokens live 10 s throughout. Then kill, HQ restarting, tokens expiring, a dataframe
// deleted while one node is away, and an extraction from a database served over the network.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { loginPerson } from '../../v6-hub/fixtures.js';
import { COLD_START_MS } from '../../v6-hub/hub.js';
import { HUB_ADMIN } from '../../v6-hub/realm.js';
import { assertSessionFlowCompleted, base64Json, dataframeTask, resultsOf, runsOf, scriptClient, scriptUser, sessionFlow, type Flow, type RunJson } from '../../v6-hub/session-flow.js';
import { LabelKey } from '../../../agent/kube/names.js';
import { v6SessionImage } from '../algorithms/session-algorithm-image.js';
import { ensureKubectl } from '../lib/kubectl.js';
import { KUBECONFIG, RESTRICTED_CONTAINER, TEST_IMAGE, apply, kubectl, testNamespace, until, waitForPodPhase } from '../smoke/kube.js';
import { startHubWorld, type HubWorld } from './hub-world.js';
import { CHART, waitForReady, type Site } from './site.js';
import { AGES } from './world.js';

let world: HubWorld;
/** The nodes' access-token lifetime: far below a session's length, so tokens expire during runs. */
const NODE_TOKEN_SECONDS = 10;
/** Run id → the action label its pod had, for every run pod of the sites created since the start. */
const podActions = new Map<number, string>();
let stopWatching: (() => void) | undefined;

test.before(async (t) => {
  t.timeout(COLD_START_MS + 10 * 60_000, 'the hub world did not start');
  world = await startHubWorld({ algorithms: { session: v6SessionImage(undefined, false) }, nodeTokenSeconds: NODE_TOKEN_SECONDS });
  // Run pods go once their run is reported (the agent deletes the Job): watched from the start,
  // every one is seen with its labels.
  const namespaces = new Set([...world.sites.values()].map((site) => site.namespace));
  const watch = spawn(await ensureKubectl(), [
    '--kubeconfig', KUBECONFIG, 'get', 'pods', '--all-namespaces', '--watch', '-l', LabelKey.Action,
    '-o', `jsonpath={.metadata.namespace} {.metadata.labels.${LabelKey.RunId.replace('.', '\\.')}} {.metadata.labels.${LabelKey.Action.replace('.', '\\.')}}{"\\n"}`,
  ]);
  let pending = '';
  watch.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const [namespace, run, action] of lines.map((line) => line.split(' '))) {
      // The isolation probe's pods carry an action too, but no run id.
      if (namespace !== undefined && namespaces.has(namespace) && run) podActions.set(Number(run), action!);
    }
  });
  stopWatching = () => watch.kill();
});

test.after.always(async () => {
  stopWatching?.();
  await world?.close();
});

/** HQ's root user, logged in afresh (the realm's tokens live 5 minutes). */
const admin = () => loginPerson(`${world.hub.url}${world.hub.apiPath}`, world.hub.keycloakUrl, world.hub.realm, HUB_ADMIN.username, HUB_ADMIN.password);

test.serial("every site's node logs in through Keycloak and is online at HQ", async (t) => {
  const hq = await admin();
  for (const node of world.hub.fixtures.nodes) {
    const status = async () => (await hq.request<{ status: string }>('GET', `node/${node.id}`)).status;
    await until(`node ${node.name} online`, async () => (await status()) === 'online', 120_000);
    t.is(await status(), 'online', node.name);
  }
});

const flows = new Map<boolean, Promise<Flow>>();
/** session_flow.py in a collaboration, once: the tests after the sessions' run in the plain collaboration's session. */
function flowIn(encrypted: boolean): Promise<Flow> {
  if (!flows.has(encrypted)) {
    const privateKeyFile = encrypted ? world.keys.get(scriptUser(world.hub).organization_id)!.privateKeyFile : undefined;
    // The first run of a node pulls the image (requireAlgorithmPull): minutes on a cold node.
    flows.set(encrypted, sessionFlow(world.hub, { collaborationId: world.collaboration(encrypted), image: world.images.algorithms.session!, ...(privateKeyFile === undefined ? {} : { privateKeyFile }), timeoutSeconds: 300 }));
  }
  return flows.get(encrypted)!;
}

/** Where the agent mounts the task volume: the chart's default `taskVolume.mountPath`. */
const TASK_VOLUME = '/var/lib/v6-node/tasks';

/** The dataframe's file on the site's task volume, as the agent's container sees it: its first and last four bytes, or null when there is none. */
async function dataframeFile(site: Site, flow: Flow): Promise<{ head: string; tail: string } | null> {
  const path = `${TASK_VOLUME}/sessions/session${String(flow.session).padStart(9, '0')}/${flow.dataframe.name}.parquet`;
  const read = `const fs = require('fs'); const p = ${JSON.stringify(path)};
    const b = fs.existsSync(p) ? fs.readFileSync(p) : null;
    process.stdout.write(JSON.stringify(b && { head: b.subarray(0, 4).toString(), tail: b.subarray(-4).toString() }))`;
  return JSON.parse(await site.agentNode(read)) as { head: string; tail: string } | null;
}

for (const encrypted of [false, true]) {
  test.serial(`${encrypted ? 'encrypted' : 'plain'} collaboration: a session's extraction, preprocessing and central average with subtasks through both proxies`, async (t) => {
    t.timeout(15 * 60_000);
    const flow = await flowIn(encrypted);
    assertSessionFlowCompleted(t, flow);
    // Each run's pod carried its action, which the chart's NetworkPolicies select on.
    for (const r of Object.values(flow.tasks).flatMap((task) => task.runs)) t.is(podActions.get(r.id), r.action, `run ${r.id}`);
    // The dataframe is a parquet file (PAR1 at both ends) on each node's task volume.
    for (const node of world.nodesOf(encrypted)) {
      t.deepEqual(await dataframeFile(world.siteOf(node), flow), { head: 'PAR1', tail: 'PAR1' }, node.name);
    }
  });
}

/** A federated_compute task at Alpha on the plain collaboration's session dataframe, by the researcher; the task's id. */
async function atAlpha(method: string, args: Record<string, unknown>, name: string): Promise<number> {
  const flow = await flowIn(false);
  return dataframeTask(await scriptClient(world.hub), {
    image: world.images.algorithms.session!,
    collaborationId: world.collaboration(false),
    flow,
    organizationId: world.hub.fixtures.organizations[0]!.id,
    method,
    arguments: args,
    name,
  });
}

/** Alpha's node in the plain collaboration, and its site. */
const alphaNode = () => world.nodesOf(false).find((n) => n.organization_id === world.hub.fixtures.organizations[0]!.id)!;
const alphaSite = () => world.siteOf(alphaNode());

/** The task's runs once `done` holds for all of them (with a researcher's token of its own: the realm's live 5 minutes). */
async function runsWhen(task: number, what: string, done: (run: RunJson) => boolean, timeoutMs: number): Promise<RunJson[]> {
  const researcher = await scriptClient(world.hub);
  let runs: RunJson[] = [];
  await until(`task ${task}: ${what}`, async () => {
    runs = await runsOf(researcher, task);
    return runs.length > 0 && runs.every(done);
  }, timeoutMs);
  return runs;
}

/** The names of the run's Job, pod and Secret in the site's namespace. */
async function runObjects(site: Site, run: number): Promise<string> {
  return (await kubectl(['get', 'jobs,pods,secrets', '-n', site.namespace, '-l', `${LabelKey.RunId}=${run}`, '-o', 'name'])).trim();
}

test.serial("kill of a running run: killed by user at HQ, and the run's Job, pod and Secret are gone", async (t) => {
  t.timeout(10 * 60_000);
  const task = await atAlpha('sleep', { seconds: 600 }, 'sleep to be killed');
  const [active] = await runsWhen(task, 'active', (r) => r.status === 'active', 180_000);
  t.not(await runObjects(alphaSite(), active!.id), '', 'the run has its Job, pod and Secret');
  // A researcher may not kill (the Researcher role lacks it); the hub's root user may.
  await (await admin()).request('POST', 'kill/task', { id: task });
  const killed = await runsWhen(task, 'killed', (r) => r.finished_at !== null, 60_000);
  t.deepEqual(killed.map((r) => r.status), ['killed by user']);
  await until("the run's objects gone", async () => (await runObjects(alphaSite(), active!.id)) === '', 60_000);
  t.is(await runObjects(alphaSite(), active!.id), '');
});

/** How long the restart's run sleeps: HQ stops while it runs and is down when it ends. */
const RESTART_SLEEP_SECONDS = 20;

test.serial('HQ restarts while a run finishes: the node reports it once HQ is back, every node is online again, and a new run of the session is done', async (t) => {
  t.timeout(10 * 60_000);
  const task = await atAlpha('sleep', { seconds: RESTART_SLEEP_SECONDS }, 'sleep through the restart');
  const [active] = await runsWhen(task, 'active', (r) => r.status === 'active', 180_000);
  const site = alphaSite();
  const succeeded = async () => (await kubectl(['get', 'jobs', '-n', site.namespace, '-l', `${LabelKey.RunId}=${active!.id}`, '-o', 'jsonpath={.items[*].status.succeeded}'])).trim() === '1';
  await world.hub.restartHq(async () => {
    t.false(await succeeded(), 'HQ went down while the run was still running');
    // The run ends while HQ is down: its Job succeeds, and the node has nobody to tell.
    await until('the Job succeeded with HQ down', succeeded, 120_000);
  });
  const [done] = await runsWhen(task, 'finished', (r) => r.finished_at !== null, 120_000);
  t.is(done!.status, 'completed', done!.log ?? '');
  t.deepEqual(await resultsOf(await scriptClient(world.hub), task), [{ slept: RESTART_SLEEP_SECONDS }]);
  // Every node is back on HQ's socket.
  const hq = await admin();
  for (const node of world.hub.fixtures.nodes) {
    await until(`node ${node.name} online again`, async () => (await hq.request<{ status: string }>('GET', `node/${node.id}`)).status === 'online', 120_000);
  }
  // Alpha's node takes a new run of the session: the sum of its ages (AGES[0]).
  const sum = await atAlpha('partial_sum', { column: 'age' }, 'sum after the restart');
  const [summed] = await runsWhen(sum, 'finished', (r) => r.finished_at !== null, 120_000);
  t.is(summed!.status, 'completed', summed!.log ?? '');
  t.deepEqual(await resultsOf(await scriptClient(world.hub), sum), [{ sum: AGES[0]!.reduce((a, b) => a + b, 0), count: AGES[0]!.length }]);
});

test.serial(`tokens of ${NODE_TOKEN_SECONDS} s expire during a run three times as long: the node reports the run with a token renewed at Keycloak, and does not loop`, async (t) => {
  t.timeout(10 * 60_000);
  const node = alphaNode();
  const started = Date.now();
  const task = await atAlpha('sleep', { seconds: 3 * NODE_TOKEN_SECONDS }, 'sleep through three token lifetimes');
  const [done] = await runsWhen(task, 'finished', (r) => r.finished_at !== null, 300_000);
  t.is(done!.status, 'completed', done!.log ?? '');
  t.deepEqual(await resultsOf(await scriptClient(world.hub), task), [{ slept: 3 * NODE_TOKEN_SECONDS }]);
  // Keycloak's own record of the node's client-credentials grants (as in the fast tier): the token
  // it held when the run started had expired by the end, so it reported with one obtained later;
  // and no renewal loop, a few tokens for the whole run.
  const grants = (await world.keycloakAdmin!.events('CLIENT_LOGIN', node.client_id)).filter((e) => e.time >= started);
  t.log(`${node.name} obtained ${grants.length} tokens, the last ${((grants.at(-1)?.time ?? started) - started) / 1000} s after the task was made`);
  t.true(grants.length >= 1 && grants.length <= 3, `the node obtained ${grants.length} tokens during a ${3 * NODE_TOKEN_SECONDS}-s run`);
  t.true(grants.at(-1)!.time - started >= 2 * NODE_TOKEN_SECONDS * 1000, 'the run reported with a token obtained after two lifetimes');
});

test.serial("a dataframe the researcher deletes leaves both organizations' task volumes: at once where the node is online, when it is back where it was away", async (t) => {
  t.timeout(10 * 60_000);
  const flow = await flowIn(false);
  const away = alphaNode();
  const online = world.nodesOf(false).find((n) => n.id !== away.id)!;
  const [awaySite, onlineSite] = [world.siteOf(away), world.siteOf(online)];
  for (const site of [awaySite, onlineSite]) t.not(await dataframeFile(site, flow), null, site.namespace);
  const hq = await admin();
  const status = async () => (await hq.request<{ status: string }>('GET', `node/${away.id}`)).status;
  // Away: the admin scales the node's Deployment to nothing, and HQ sees it go.
  const scale = (replicas: number) => kubectl(['scale', 'deployment', `${awaySite.release}-v6-node`, '-n', awaySite.namespace, `--replicas=${replicas}`]);
  await scale(0);
  await until(`${away.name} offline at HQ`, async () => (await status()) === 'offline', 120_000);
  await (await scriptClient(world.hub)).request('DELETE', `session/dataframe/${flow.dataframe.id}`);
  await until(`the dataframe gone from ${onlineSite.namespace}`, async () => (await dataframeFile(onlineSite, flow)) === null, 60_000);
  t.is(await dataframeFile(onlineSite, flow), null, onlineSite.namespace);
  // Back: the hub re-sends delete_dataframe before the node is in the collaboration's room; the
  // node finds the dataframe gone from the session's list at sync.
  await scale(1);
  await waitForReady(awaySite.namespace, awaySite.release);
  await until(`the dataframe gone from ${awaySite.namespace}`, async () => (await dataframeFile(awaySite, flow)) === null, 120_000);
  t.is(await dataframeFile(awaySite, flow), null, awaySite.namespace);
  t.is(await status(), 'online');
});

/** The CSV served over HTTP: the claim's columns and one more, so HQ's columns show where the dataframe came from. */
const SERVED_CSV = `id,age,served\n${AGES[0]!.map((age, i) => `${i + 1},${age},1`).join('\n')}\n`;

/** A new dataframe of the plain collaboration's session, extracted at Alpha only: its id and the extraction's run once finished. */
async function extractAtAlpha(): Promise<{ dataframe: number; run: RunJson }> {
  const flow = await flowIn(false);
  const created = await (await scriptClient(world.hub)).request<{ id: number; last_session_task: { id: number } }>('POST', `session/${flow.session}/dataframe`, {
    label: 'default',
    task: { image: world.images.algorithms.session!, method: 'read_csv', organizations: [{ id: alphaNode().organization_id, arguments: base64Json({}) }] },
  });
  const [run] = await runsWhen(created.last_session_task.id, 'finished', (r) => r.finished_at !== null, 300_000);
  return { dataframe: created.id, run: run! };
}

// Last: it leaves Alpha's site reading its database over the network.
test.serial("a database served over the network and given as vantage6 5's chart gives it (DATABASE_* variables, the URI from a Secret): Alpha's extraction reads it only through networkPolicy.dataExtractionEgress", async (t) => {
  t.timeout(15 * 60_000);
  await flowIn(false); // the session, made while Alpha still reads its claim
  // The institution's data service, in a namespace of its own: busybox's httpd serving the CSV.
  const data = await testNamespace(t, 'served-data');
  await apply(
    data,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'patients' }, data: { 'patients.csv': SERVED_CSV } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'httpd', labels: { app: 'patients' } },
      spec: {
        containers: [{ name: 'httpd', image: TEST_IMAGE, command: ['httpd', '-f', '-p', '8080', '-h', '/data'], securityContext: RESTRICTED_CONTAINER, volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', configMap: { name: 'patients' } }],
      },
    },
  );
  const { podIP } = await waitForPodPhase(data, 'httpd', 'Running');
  const uri = `http://${podIP}:8080/patients.csv`;
  const site = alphaSite();
  await kubectl(['-n', site.namespace, 'create', 'secret', 'generic', 'served-database', `--from-literal=uri=${uri}`]);
  const upgrade = async (networkPolicy: Record<string, unknown>) => {
    const values = join(await mkdtemp(join(tmpdir(), 'v6-served-')), 'values.yaml');
    await writeFile(values, stringify({
      databases: [],
      agent: {
        extraEnv: [
          { name: 'DATABASE_LABELS', value: 'default' },
          { name: 'DATABASE_DEFAULT_URI', valueFrom: { secretKeyRef: { name: 'served-database', key: 'uri' } } },
          { name: 'DATABASE_DEFAULT_TYPE', value: 'csv' },
        ],
      },
      networkPolicy,
    }));
    await site.helm(['upgrade', site.release, CHART, '-n', site.namespace, '-f', site.valuesFile, '-f', values]);
    await waitForReady(site.namespace, site.release);
  };

  // Without the rule the extraction reads the served URI and cannot reach it: crashed, the log says where it went.
  await upgrade({});
  const blocked = await extractAtAlpha();
  t.is(blocked.run.status, 'crashed', blocked.run.log ?? '');
  t.true((blocked.run.log ?? '').includes(`Reading the csv database at ${uri}`), blocked.run.log ?? '');

  await upgrade({
    dataExtractionEgress: [{
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': data } }, podSelector: { matchLabels: { app: 'patients' } } }],
      ports: [{ protocol: 'TCP', port: 8080 }],
    }],
  });
  const read = await extractAtAlpha();
  t.is(read.run.status, 'completed', read.run.log ?? '');
  t.is(podActions.get(read.run.id), 'data_extraction');
  const { columns } = await (await scriptClient(world.hub)).request<{ columns: { name: string }[] }>('GET', `session/dataframe/${read.dataframe}`);
  t.deepEqual(columns.map((c) => c.name).sort(), ['age', 'id', 'served'], 'the columns of the served CSV');
});

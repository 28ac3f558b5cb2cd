// The whole node on the real cluster (README "Installing on Kubernetes", done as an admin does it).
import { readFile } from 'node:fs/promises';
import test, { type ExecutionContext } from 'ava';
import { metricNamesOf } from '../../support/prometheus.js';
import { startPrometheus } from '../../support/prometheus-server.js';
import type { RunJson, TaskJson } from '../../dev-server/user-client.js';
import { waitFor } from '../../agent/run-helpers.js';
import { COLD_START_MS } from '../../v6-server/server.js';
import { stopPolicyEnforcement, startPolicyEnforcement } from '../lib/policy-enforcement.js';
import { API_PORT, KUBERNETES_SERVICE_IP, NODE2_LINK, NODE_IP, REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER } from '../lib/config.js';
import { RESTRICTED_CONTAINER, TEST_IMAGE, apply, getJson, kubectl, testNamespace, until, waitForPodPhase } from '../smoke/kube.js';
import { algorithmLikePod, computeFor, measureFrom, podEndpoint, startInternet, targetKey } from './reachability.js';
import { CHART, podOf, waitForReady, type Site } from './site.js';
import type { Endpoint } from '../../helm/network-policy.js';
import { LabelKey } from '../../../agent/kube/names.js';
import { gateContainer } from '../../../agent/isolation/gate.js';
import { ALGORITHM_TOOLS_VERSION, algorithmImage, type AlgorithmName } from '../algorithms/algorithm-images.js';
import { AGES, startNodeWorld, type NodeWorld } from './world.js';

let world: NodeWorld;
/** The sites' results.maxOutputBytes: small, so the oversized image need not write 50 MiB. */
const OUTPUT_LIMIT = 1024 * 1024;
/** The memory limit the sites give the oom image (kubernetes.image_overrides). */
const OOM_LIMIT = '192Mi';

test.before(async (t) => {
  t.timeout(COLD_START_MS + 10 * 60_000, 'the node world did not start');
  const built = (name: AlgorithmName) => algorithmImage(name, `${REGISTRY}/algorithms/${name}:${ALGORITHM_TOOLS_VERSION}`, false);
  world = await startNodeWorld({
    // `refused` is the crash image under a name the sites' policies do not list.
    algorithms: { average: built('average'), crash: built('crash'), oom: built('oom'), oversized: built('oversized'), refused: built('crash') },
    values: (images) => ({
      results: { maxOutputBytes: OUTPUT_LIMIT },
      // Prometheus runs on the host: pods see it as the bridge's address, or as the host's end of
      // the second node's link.
      metrics: { scrapeFrom: [{ ipBlock: { cidr: `${NODE_IP}/32` } }, { ipBlock: { cidr: `${NODE2_LINK.hostIp}/32` } }] },
      algorithms: { imageOverrides: [{ image: images.algorithms.oom, resources: { requests: { memory: '64Mi' }, limits: { memory: OOM_LIMIT } } }] },
    }),
  });
});
test.after.always(async () => {
  await world?.close();
});

test.serial('every site\'s node logs in and is online at the server', async (t) => {
  for (const node of world.server.fixtures.nodes) {
    const seen = await waitFor(`node ${node.id} online`, async () => {
      const answer = await world.researcher.request<{ status: string }>('GET', `node/${node.id}`);
      return answer.status === 'online' ? answer : undefined;
    }, 60_000);
    t.is(seen.status, 'online');
  }
});

test.serial('helm test passes for every site', async (t) => {
  for (const site of world.sites.values()) {
    const out = await site.helm(['test', site.release, '-n', site.namespace]);
    t.regex(out, /Phase:\s+Succeeded/, `${site.namespace}: ${out}`);
  }
});

test.serial('reachability from a pod labelled as an algorithm, and from one labelled as a vantage6 5 data_extraction run, measured with real connections, is what the policies compute', async (t) => {
  const alpha = world.siteOf(world.alpha, false);
  const beta = world.siteOf(world.beta, false);
  const internet = await startInternet(process.execPath);
  t.teardown(() => internet.close());
  const labels = { 'vantage6.ai/role': 'algorithm', 'app.kubernetes.io/managed-by': 'v6-node' };
  const image = `${world.images.node.repository}@${world.images.node.digest}`;
  // The algorithm pod of a 4.x run (no action), and of a 5 run whose action may reach nothing.
  const pods = { reach: labels, 'reach-offline': { ...labels, [LabelKey.Action]: 'data_extraction' } };
  for (const [pod, podLabels] of Object.entries(pods)) {
    await apply(alpha.namespace, algorithmLikePod(pod, image, podLabels));
    t.teardown(() => kubectl(['delete', 'pod', pod, '-n', alpha.namespace, '--wait=false']).then(() => undefined));
  }
  for (const pod of Object.keys(pods)) await waitForPodPhase(alpha.namespace, pod, 'Running', 120_000);

  const clusterIp = async (namespace: string, service: string) =>
    (await getJson<{ spec: { clusterIP: string } }>(namespace, 'service', service)).spec.clusterIP;
  const endpoints: Endpoint[] = [
    await podEndpoint('algorithm', alpha.namespace, 'reach'),
    await podEndpoint('data_extraction algorithm', alpha.namespace, 'reach-offline'),
    await podEndpoint('node', alpha.namespace, await alpha.nodePod()),
    await podEndpoint('redis', alpha.namespace, await podOf(alpha.namespace, alpha.release, 'redis')),
    await podEndpoint('other organization\'s node', beta.namespace, await beta.nodePod()),
    await podEndpoint('other organization\'s redis', beta.namespace, await podOf(beta.namespace, beta.release, 'redis')),
    { name: 'host', ip: NODE_IP, ports: [] },
    { name: 'internet', ip: internet.ip, ports: [] },
  ];
  const ip = (name: string) => endpoints.find((e) => e.name === name)!.ip;
  const fullname = `${alpha.release}-v6-node`;
  const tcp = (what: string, endpoint: string, host: string, port: number, policyPort?: number) => ({ what, endpoint, host, port, protocol: 'TCP' as const, ...(policyPort ? { policyPort } : {}) });
  const targets = [
    tcp('proxy (Service)', 'node', await clusterIp(alpha.namespace, fullname), 7654),
    tcp('proxy (pod)', 'node', ip('node'), 7654),
    tcp('agent metrics', 'node', ip('node'), 9464),
    tcp('proxy metrics', 'node', ip('node'), 9465),
    tcp('Redis (Service)', 'redis', await clusterIp(alpha.namespace, `${fullname}-redis`), 6379),
    tcp('Redis (pod)', 'redis', ip('redis'), 6379),
    tcp('vantage6 server', 'host', NODE_IP, world.server.port),
    tcp('Kubernetes API (Service)', 'host', KUBERNETES_SERVICE_IP, 443, API_PORT),
    tcp('Kubernetes API (endpoint)', 'host', NODE_IP, API_PORT),
    tcp('kubelet', 'host', NODE_IP, 10250),
    tcp('registry', 'host', NODE_IP, 5000),
    { what: 'DNS (UDP)', endpoint: 'host', host: NODE_IP, port: 53, protocol: 'UDP' as const },
    tcp('DNS (TCP)', 'host', NODE_IP, 53),
    tcp('other organization\'s proxy', 'other organization\'s node', ip('other organization\'s node'), 7654),
    tcp('other organization\'s Redis', 'other organization\'s redis', ip('other organization\'s redis'), 6379),
    tcp('internet', 'internet', internet.ip, internet.port),
  ];
  // The control: the same pod in a namespace without policies, where only the sites' own ingress
  // rules apply. What it reaches shows that every "no" above is a policy's doing, not a dead target.
  const control = await testNamespace(t, 'control');
  await kubectl(['-n', control, 'create', 'secret', 'docker-registry', 'registry', `--docker-server=${REGISTRY}`, `--docker-username=${REGISTRY_USER}`, `--docker-password=${REGISTRY_PASSWORD}`]);
  await apply(control, algorithmLikePod('reach', image, labels));
  await waitForPodPhase(control, 'reach', 'Running', 120_000);
  endpoints.push(await podEndpoint('control', control, 'reach'));

  const table: string[] = [];
  const found: Record<string, string[]> = {};
  const sources = [['algorithm', alpha.namespace, 'reach'], ['data_extraction algorithm', alpha.namespace, 'reach-offline'], ['control', control, 'reach']] as const;
  for (const [source, namespace, pod] of sources) {
    const measured = await measureFrom(namespace, pod, targets);
    const computed = await computeFor(source, endpoints, targets);
    table.push(`from ${source}:`, ...targets.map((x) => `  ${`${x.what} ${targetKey(x)}`.padEnd(52)} measured ${measured[targetKey(x)] ? 'yes' : 'no '}  computed ${computed[targetKey(x)] ? 'yes' : 'no'}`));
    t.deepEqual(measured, computed, `from ${source}`);
    found[source] = targets.filter((x) => measured[targetKey(x)]).map((x) => x.what);
  }
  t.log(`\n${table.join('\n')}`);
  // What the README promises: an algorithm reaches the proxy and nothing else…
  t.deepEqual(found.algorithm, ['proxy (Service)', 'proxy (pod)']);
  // …a data_extraction run reaches nothing at all, the proxy included…
  t.deepEqual(found['data_extraction algorithm'], []);
  // …while a pod no policy holds reaches everything outside the sites' pods.
  t.deepEqual(found.control, ['vantage6 server', 'Kubernetes API (Service)', 'Kubernetes API (endpoint)', 'kubelet', 'registry', 'DNS (UDP)', 'DNS (TCP)', 'internet']);
});

/** How many pods of each kind the gate test starts. */
const FIRST_CONNECTS = 4;

test.serial('an algorithm that connects the moment its pod starts: the isolation gate holds it until the pod\'s policies are in effect, so it reaches nothing forbidden', async (t) => {
  t.timeout(5 * 60_000);
  const alpha = world.siteOf(world.alpha, false);
  const labels = { 'vantage6.ai/role': 'algorithm', 'app.kubernetes.io/managed-by': 'v6-node' };
  const gate = gateContainer({ image: `${world.images.node.repository}@${world.images.node.digest}`, forbidden: { host: KUBERNETES_SERVICE_IP, port: 443 }, imagePullSecrets: ['registry'] });
  // busybox's nc is connecting within milliseconds of the container's start (node would take longer).
  const firstConnect = (name: string, gated: boolean) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      imagePullSecrets: [{ name: 'registry' }],
      securityContext: { runAsNonRoot: true, runAsUser: 10000, runAsGroup: 10000, seccompProfile: { type: 'RuntimeDefault' } },
      ...(gated ? { initContainers: [gate] } : {}),
      containers: [{ name: 'algorithm', image: TEST_IMAGE, command: ['sh', '-c', `if nc -w 2 ${KUBERNETES_SERVICE_IP} 443 </dev/null 2>/dev/null; then echo reached; else echo refused; fi`], securityContext: RESTRICTED_CONTAINER }],
    },
  });
  const outcomes = async (gated: boolean): Promise<string[]> => {
    const names = Array.from({ length: FIRST_CONNECTS }, (_, i) => `first-connect-${gated ? 'gated' : 'bare'}-${i}`);
    for (const name of names) {
      await apply(alpha.namespace, firstConnect(name, gated));
      t.teardown(() => kubectl(['delete', 'pod', name, '-n', alpha.namespace, '--wait=false']).then(() => undefined));
    }
    for (const name of names) await waitForPodPhase(alpha.namespace, name, 'Succeeded', 120_000);
    return Promise.all(names.map(async (name) => (await kubectl(['logs', '-n', alpha.namespace, name, '-c', 'algorithm'])).trim().split('\n').at(-1)!));
  };
  // Without the gate: what this cluster's policy implementation lets through before it has programmed a new pod.
  const bare = await outcomes(false);
  t.log(`without the gate, the Kubernetes API at the first connect: ${bare.join(', ')}`);
  t.deepEqual(await outcomes(true), Array(FIRST_CONNECTS).fill('refused'), 'with the gate');
});

test.serial('every agent found isolation enforced by its probe, and says so to the server', async (t) => {
  for (const [nodeId, site] of world.sites) {
    // A first probe in a namespace just installed may find the proxy unreachable (kube-router had
    // not yet programmed the new pods' allow rules); the agent probes again after retry_seconds.
    const seen = await verdictsUntil(site, 'enforced');
    t.log(`${site.namespace}: ${seen.join(' → ')}`);
    t.is(seen.at(-1), 'enforced');
    const node = await world.researcher.request<{ config: { key: string; value: string }[] }>('GET', `node/${nodeId}`);
    t.deepEqual(node.config.filter((c) => c.key === 'network_isolation').map((c) => c.value), ['enforced'], site.namespace);
  }
});

/** The README's claim: exactly these rules, beyond what every authenticated user may do. */
const VERB_ORDER = ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete', 'deletecollection'];
const ROLE_CLAIMED = ['jobs.batch [create get list watch delete]', 'pods/log [get]', 'pods [list watch]', 'secrets [create]'];

test.serial("least privilege: each agent's ServiceAccount may do exactly what the README says, and the agents met no 403", async (t) => {
  for (const site of world.sites.values()) {
    const account = `system:serviceaccount:${site.namespace}:${site.release}-v6-node`;
    const list = await kubectl(['auth', 'can-i', '--list', `--as=${account}`, '-n', site.namespace]);
    const rules = list
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s{2,}/))
      .filter(([resource]) => resource !== undefined && resource !== '' && !resource.startsWith('[') && !resource.startsWith('selfsubject'))
      .map(([resource, , , verbs]) => `${resource} [${(verbs ?? '').replace(/^\[|\]$/g, '').split(' ').sort((a, b) => VERB_ORDER.indexOf(a) - VERB_ORDER.indexOf(b)).join(' ')}]`)
      .sort();
    t.deepEqual(rules, [...ROLE_CLAIMED].sort(), site.namespace);
    // The agent counts every API error by verb and code; a 403 would be there (and in its log).
    const metrics = await site.agentMetrics();
    t.true(metrics.includes('v6_node_kubernetes_api_errors_total'), `${site.namespace}: the agent's metrics have no API error counter`);
    t.deepEqual(metrics.split('\n').filter((l) => l.startsWith('v6_node_kubernetes_api_errors_total{') && l.includes('code="403"')), [], site.namespace);
    t.deepEqual((await site.agentLog()).split('\n').filter((l) => /\b403\b|Forbidden/.test(l)), [], site.namespace);
  }
});

interface Page<T> {
  data: T[];
}

function assertFinished(t: ExecutionContext, runs: RunJson[], status: string) {
  for (const run of runs) {
    t.is(run.status, status, `run ${run.id}: ${run.log ?? ''}`);
    t.not(run.finished_at, null, `run ${run.id}`);
  }
}

for (const encrypted of [false, true]) {
  test.serial(`a federated task with subtasks through the proxies of both organizations (${encrypted ? 'encrypted' : 'plain'})`, async (t) => {
    const task = await world.createTask({
      encrypted,
      organizations: [world.alpha],
      value: { method: 'central_average', kwargs: { column: 'age' } },
      image: world.images.algorithms.average!,
      name: `federated ${encrypted ? 'encrypted' : 'plain'}`,
    });
    assertFinished(t, await world.researcher.waitForTask(task.id, { timeoutMs: 5 * 60_000, intervalMs: 1000 }), 'completed');
    // Computed here from the data the sites were given, not by the algorithm's code.
    const ages = AGES.flat();
    const sum = ages.reduce((a, b) => a + b, 0);
    t.like(await world.resultOf(task.id, encrypted), { sum, count: ages.length, average: sum / ages.length });

    const subtasks = (await world.researcher.request<Page<TaskJson>>('GET', `task?parent_id=${task.id}`)).data;
    t.is(subtasks.length, 1);
    const subruns = await world.researcher.getRuns(subtasks[0]!.id);
    assertFinished(t, subruns, 'completed');
    t.deepEqual(subruns.map((r) => r.organization.id).sort(), [world.alpha, world.beta].sort());
  });
}

test.serial('runs that cannot succeed end with the status vantage6 gives them, and a log that says why', async (t) => {
  const { algorithms } = world.images;
  const cases = [
    { name: 'crash', image: algorithms.crash!, value: { method: 'crash', kwargs: { message: 'deliberately' } }, status: 'crashed', log: /Error encountered while calling crash/ },
    { name: 'oom', image: algorithms.oom!, value: { method: 'oom', kwargs: { step_mib: 16 } }, status: 'crashed', log: /OOMKilled/ },
    { name: 'oversized', image: algorithms.oversized!, value: { method: 'oversized', kwargs: { size_bytes: OUTPUT_LIMIT + 1 } }, status: 'failed', log: /The result was not sent/ },
    { name: 'refused', image: algorithms.refused!, value: { method: 'crash', kwargs: {} }, status: 'not allowed', log: /not allowed|allowed_algorithms/i },
    { name: 'missing', image: algorithms.missing!, value: { method: 'crash', kwargs: {} }, status: 'non-existing Docker image', log: /missing/ },
  ];
  const started = Date.now();
  const tasks = await Promise.all(cases.map((c) => world.createTask({ encrypted: false, organizations: [world.alpha], value: c.value, image: c.image, name: c.name })));
  for (const [index, c] of cases.entries()) {
    const runs = await world.researcher.waitForTask(tasks[index]!.id, { timeoutMs: 5 * 60_000, intervalMs: 1000 });
    t.log(`${c.name}: ${runs[0]!.status} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assertFinished(t, runs, c.status);
    t.regex(runs[0]!.log ?? '', c.log, c.name);
  }
});

test.serial("kill of a running task: killed by user at the server, and the run's Job, pod and Secret are gone", async (t) => {
  const site = world.siteOf(world.alpha, false);
  const task = await world.createTask({
    encrypted: false,
    organizations: [world.alpha],
    value: { method: 'oom', kwargs: { step_mib: 1, step_seconds: 1, stop_after_mib: 3600 } },
    image: world.images.algorithms.oom!,
    name: 'kill',
  });
  await waitFor('the run active', async () => (await world.researcher.getRuns(task.id))[0]?.status === 'active', 180_000);
  const [run] = await world.researcher.getRuns(task.id);
  const selector = `vantage6.ai/run-id=${run!.id}`;
  t.not((await kubectl(['get', 'jobs,pods,secrets', '-n', site.namespace, '-l', selector, '-o', 'name'])).trim(), '');
  await world.researcher.kill(task.id);
  assertFinished(t, await world.researcher.waitForTask(task.id, { timeoutMs: 60_000, intervalMs: 500 }), 'killed by user');
  await waitFor('the run\'s objects gone', async () => (await kubectl(['get', 'jobs,pods,secrets', '-n', site.namespace, '-l', selector, '-o', 'name'])).trim() === '', 60_000);
  t.pass();
});

test.serial("Prometheus scrapes both metrics ports of every site through its Service, and every dashboard expression returns data", async (t) => {
  const targets = [];
  for (const site of world.sites.values()) {
    const service = `${site.release}-v6-node`;
    const ip = (await getJson<{ spec: { clusterIP: string } }>(site.namespace, 'service', service)).spec.clusterIP;
    const pod = await site.nodePod();
    // As the chart's ServiceMonitor labels them: the Service's job, the pod's namespace, pod and container.
    targets.push({ targets: [`${ip}:9464`], labels: { job: service, namespace: site.namespace, pod, container: 'agent' } });
    targets.push({ targets: [`${ip}:9465`], labels: { job: service, namespace: site.namespace, pod, container: 'proxy' } });
  }
  const prometheus = await startPrometheus({ scrapeConfigs: [{ job_name: 'v6-node', static_configs: targets }] });
  t.teardown(() => prometheus.close());
  await prometheus.waitForTargetsUp(60_000);
  await waitFor('three scrapes of every target', async () => (await prometheus.query('count_over_time(process_cpu_seconds_total{job="site-a-v6-node"}[1m]) >= 3')).length === 4, 60_000);

  const dashboard = JSON.parse(await readFile(new URL('../../../queue/dashboard.json', import.meta.url), 'utf8')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };
  const empty: string[] = [];
  let expressions = 0;
  for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
    for (const { expr } of panel.targets ?? []) {
      expressions += 1;
      const query = expr.replaceAll('$job', '(site-a-v6-node|site-b-v6-node)').replaceAll('$namespace', 'v6n-.*').replaceAll('$__rate_interval', '1m');
      const found = await prometheus.query(query);
      // An error counter has no series until an error happens: empty is the right answer there.
      if (found.length === 0 && !metricNamesOf(expr).every((name) => name.endsWith('_errors_total'))) empty.push(`${panel.title}: ${query}`);
    }
  }
  t.log(`${expressions} expressions, ${expressions - empty.length} with data`);
  t.deepEqual(empty, []);
});

/**
 * A run that stays active for ~45 s (the oom image, 1 MiB a second, stopping at 45 MiB), disturbed
 * once it is active; it must still complete once, with its result, from the Job it started in.
 */
async function survives(t: ExecutionContext, name: string, disturb: (site: Site) => Promise<void>) {
  const site = world.siteOf(world.alpha, false);
  const task = await world.createTask({
    encrypted: false,
    organizations: [world.alpha],
    value: { method: 'oom', kwargs: { step_mib: 1, step_seconds: 1, stop_after_mib: 45 } },
    image: world.images.algorithms.oom!,
    name,
  });
  await waitFor('the run active', async () => (await world.researcher.getRuns(task.id))[0]?.status === 'active', 180_000);
  const [run] = await world.researcher.getRuns(task.id);
  const jobName = `v6-node-${world.nodeOf(world.alpha, false).id}-run-${run!.id}`;
  const uid = (await getJson<{ metadata: { uid: string } }>(site.namespace, 'job', jobName)).metadata.uid;
  await disturb(site);
  await waitForReady(site.namespace, site.release);
  assertFinished(t, await world.researcher.waitForTask(task.id, { timeoutMs: 5 * 60_000, intervalMs: 1000 }), 'completed');
  t.deepEqual(await world.resultOf(task.id, false), { allocated_mib: 45 });
  // The agent deletes a reported run's Job; the job controller's events say what existed: one Job
  // (the same uid) that created one pod.
  const events = await getJson<{ items: { involvedObject: { uid: string }; reason: string; count?: number }[] }>(
    site.namespace, 'events', '--field-selector', `involvedObject.kind=Job,involvedObject.name=${jobName},reason=SuccessfulCreate`,
  );
  t.deepEqual(events.items.map((e) => [e.involvedObject.uid, e.count ?? 1]), [[uid, 1]], 'the same Job, one pod: adopted, not started again');
}

test.serial('helm upgrade while a run is active: the new agent adopts it, nothing lost or run twice', (t) =>
  survives(t, 'upgrade', async (site) => {
    await site.helm(['upgrade', site.release, CHART, '-n', site.namespace, '-f', site.valuesFile, '--set', 'logLevel=debug']);
  }));

test.serial('the node pod deleted while a run is active: its successor adopts the run', (t) =>
  survives(t, 'node pod deleted', async (site) => {
    await kubectl(['delete', 'pod', '-n', site.namespace, await site.nodePod(), '--wait=false']);
  }));

test.serial('the Redis pod deleted while a run is active: the queue survives on its volume', (t) =>
  survives(t, 'redis pod deleted', async (site) => {
    await kubectl(['delete', 'pod', '-n', site.namespace, await podOf(site.namespace, site.release, 'redis'), '--wait=false']);
  }));

/** The agent's isolation state (v6_node_isolation_state), or '' before it serves one. */
async function isolationState(site: Site): Promise<string> {
  const metrics = await site.agentMetrics().catch(() => '');
  return metrics.split('\n').find((l) => l.startsWith('v6_node_isolation_state{') && l.endsWith(' 1'))?.match(/state="([^"]+)"/)?.[1] ?? '';
}

/** The verdicts the agent went through (pending aside) until `wanted`, within two probe retries. */
async function verdictsUntil(site: Site, wanted: string): Promise<string[]> {
  const seen: string[] = [];
  await waitFor(`${site.namespace}'s isolation verdict ${wanted}`, async () => {
    const state = await isolationState(site);
    if (state !== '' && state !== 'pending' && seen.at(-1) !== state) seen.push(state);
    return state === wanted;
  }, 200_000).catch((error: unknown) => {
    throw new Error(`${String(error)} (seen: ${seen.join(' → ') || 'nothing'})`, { cause: error });
  });
  return seen;
}

test.serial('with the policy implementation off, the verdict is not-enforced and runs are held until isolation.allowUnenforced', async (t) => {
  const site = world.siteOf(world.alpha, false);
  const nodeId = world.nodeOf(world.alpha, false).id;
  const upgrade = async (...set: string[]) => {
    await site.helm(['upgrade', site.release, CHART, '-n', site.namespace, '-f', site.valuesFile, ...set.flatMap((s) => ['--set', s])]);
    await waitForReady(site.namespace, site.release);
  };
  try {
    await stopPolicyEnforcement();
    // The agent probes at start: a new node pod finds the policies ignored.
    await kubectl(['delete', 'pod', '-n', site.namespace, await site.nodePod(), '--wait=false']);
    await waitForReady(site.namespace, site.release);
    t.deepEqual(await verdictsUntil(site, 'not-enforced'), ['not-enforced']);
    const node = await world.researcher.request<{ config: { key: string; value: string }[] }>('GET', `node/${nodeId}`);
    t.deepEqual(node.config.filter((c) => c.key === 'network_isolation').map((c) => c.value), ['not-enforced']);

    const task = await world.createTask({ encrypted: false, organizations: [world.alpha], value: { method: 'partial_average', kwargs: { column: 'age' } }, image: world.images.algorithms.average!, name: 'held' });
    const [run] = await world.researcher.getRuns(task.id);
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    t.is((await world.researcher.getRuns(task.id))[0]!.status, 'pending', 'held, not failed');
    t.is((await kubectl(['get', 'jobs', '-n', site.namespace, '-l', `vantage6.ai/run-id=${run!.id}`, '-o', 'name'])).trim(), '', 'no Job launched');

    // The admin accepts it knowingly: the held run goes.
    await upgrade('isolation.allowUnenforced=true');
    assertFinished(t, await world.researcher.waitForTask(task.id, { timeoutMs: 5 * 60_000, intervalMs: 1000 }), 'completed');
    t.deepEqual(await world.resultOf(task.id, false), { sum: AGES[0]!.reduce((a, b) => a + b, 0), count: AGES[0]!.length });
  } finally {
    await startPolicyEnforcement();
    await upgrade();
  }
  t.is((await verdictsUntil(site, 'enforced')).at(-1), 'enforced', 'and enforced again once the policies are');
});

test.serial('helm uninstall leaves what the README says it keeps (and at most the objects of unreported runs)', async (t) => {
  const site = world.siteOf(world.beta, true);
  await site.helm(['uninstall', site.release, '-n', site.namespace, '--wait']);
  // --wait waits for what Helm deleted (the StatefulSet), not for the pods the garbage collector
  // then deletes in the background with their grace period: Redis's pod may still be terminating.
  const releasePods = async () => (await kubectl(['get', 'pods', '-n', site.namespace, '-l', `app.kubernetes.io/instance=${site.release}`, '-o', 'name'])).trim();
  await until(`the pods of release ${site.release} to be gone`, async () => (await releasePods()) === '', 120_000);
  const kinds = 'deployments,statefulsets,jobs,pods,services,networkpolicies,configmaps,secrets,persistentvolumeclaims,serviceaccounts,roles,rolebindings';
  const names = async (...selector: string[]) => (await kubectl(['get', kinds, '-n', site.namespace, ...selector, '-o', 'name'])).split('\n').filter((l) => l !== '').sort();
  const runs = await names('-l', 'app.kubernetes.io/managed-by=v6-node');
  const left = (await names()).filter((name) => !runs.includes(name));
  const fullname = `${site.release}-v6-node`;
  t.deepEqual(left, [
    // The admin's own (README step 3, the data claim, the registry credentials) and the namespace's defaults.
    'configmap/kube-root-ca.crt',
    'configmap/patients-csv',
    `persistentvolumeclaim/data-${fullname}-redis-0`,
    'persistentvolumeclaim/research-data',
    'secret/node-credentials',
    'secret/org-private-key',
    `secret/${fullname}-redis`,
    'secret/registry',
    'serviceaccount/default',
  ].sort());
  t.log(`left by the agent: ${runs.join(', ')}`);
  t.true(runs.every((name) => /^(job\.batch|job|pod|secret)\/v6-node-\d+-(run-\d+|isolation-probe)/.test(name)), runs.join(', '));
});

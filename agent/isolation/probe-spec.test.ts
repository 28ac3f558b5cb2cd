import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../config.js';
import { buildRunObjects } from '../kube/job-spec.js';
import { algorithmPodLabels } from '../kube/names.js';
import { buildProbeJob, PROBE_SCRIPT, probeJobName, probeKinds, probeTargets, type ProbeTargets } from './probe-spec.js';
import { allowsLaunches, outcomeOfPod, overallOutcome, type ProbeKind, type ProbeOutcome } from './verdict.js';

function config(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    stringify({
      api_key: '2f1b6a4e-9d0c-4c1e-8f7a-6b5d4c3b2a10',
      server_url: 'https://v6.example.org',
      kubernetes: { task_volume: { claim_name: 'tasks' }, node_name: 'worker-1', image_pull_secrets: ['algorithms'] },
      proxy: { url: 'http://v6-node.vantage6.svc.cluster.local', port: 7654 },
      isolation: { image: 'v6-node:0.1.0', image_pull_secrets: ['node-registry'] },
      ...extra,
    }),
    {},
  ).config;
}

const TARGETS: ProbeTargets = { forbidden: { host: '10.43.0.1', port: 443 }, proxy: { host: '10.43.0.12', port: 7654 } };
/** proxy.url as the agent resolved it. */
const PROXY = 'http://10.43.0.12';
/** A 4.x node's one probe; a vantage6 5 node's two. */
const [V4] = probeKinds(4);
const [COMPUTE] = probeKinds(5);
const OFFLINE = probeKinds(5)[1]!;

test('the probes of a node: a 4.x node probes as an unlabelled run; a vantage6 5 node as a compute run, then as a data_extraction run that must not reach the proxy', (t) => {
  t.deepEqual(probeKinds(4), [{ action: undefined, proxy: 'reachable' }]);
  t.deepEqual(probeKinds(5), [
    { action: 'federated_compute', proxy: 'reachable' },
    { action: 'data_extraction', proxy: 'unreachable' },
  ]);
});

test('the probe Job: deterministic name, the algorithm pod labels, and the hardening of a run pod', (t) => {
  const cfg = config();
  const job = buildProbeJob({ nodeId: 7, image: 'v6-node:0.1.0', targets: TARGETS, kind: V4, config: cfg });
  t.notThrows(() => new Job(job as never).validate());
  t.is(job.metadata?.name, 'v6-node-7-isolation-probe');
  t.is(probeJobName(7, undefined), 'v6-node-7-isolation-probe');
  const podLabels = job.spec!.template.metadata!.labels!;
  // Every label the algorithm NetworkPolicies may select on (role, managed-by, node-id) is there.
  const run = buildRunObjects({
    run: { id: 1, taskId: 2, jobId: 3, parentId: null, image: 'x:1', databases: [] },
    node: { id: 7, organizationId: 1, collaborationId: 1, name: 'n' },
    token: 't',
    proxyUrl: 'http://10.43.0.12',
    isolationGate: undefined,
    config: cfg,
  }).job;
  for (const key of ['vantage6.ai/role', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/component', 'vantage6.ai/node-id']) {
    t.is(podLabels[key], algorithmPodLabels(7, { id: 1, taskId: 2, jobId: 3, parentId: null })[key], key);
  }
  t.is(podLabels['vantage6.ai/run-id'], undefined, 'not a run: the run watcher ignores it');
  t.is(podLabels['vantage6.ai/action'], undefined, 'a 4.x run has no action');
  const spec = job.spec!.template.spec!;
  const runSpec = run.spec!.template.spec!;
  t.is(spec.automountServiceAccountToken, false);
  t.is(spec.enableServiceLinks, false);
  t.is(spec.restartPolicy, 'Never');
  t.deepEqual(spec.affinity, runSpec.affinity, 'pinned like a run with a ReadWriteOnce volume');
  const { fsGroup, fsGroupChangePolicy, ...runPodSecurity } = runSpec.securityContext!;
  t.truthy(fsGroup && fsGroupChangePolicy);
  t.deepEqual(spec.securityContext, runPodSecurity, 'no volume of the task claim, so no fsGroup');
  t.deepEqual(spec.containers[0]!.securityContext, runSpec.containers[0]!.securityContext);
  t.deepEqual(spec.imagePullSecrets, [{ name: 'node-registry' }]);
  t.deepEqual(spec.containers[0]!.command?.slice(0, 2), ['node', '-e']);
  t.is(job.spec!.backoffLimit, 0);
});

test("a vantage6 5 node's probe Jobs: one per action, named and labelled by it; the data_extraction probe must not reach the proxy and tries it for one timeout", (t) => {
  const cfg = config({ isolation: { image: 'v6-node:0.1.0', timeout_seconds: 7, proxy_wait_seconds: 45 } });
  const env = (job: ReturnType<typeof buildProbeJob>) => Object.fromEntries(job.spec!.template.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
  const v4 = buildProbeJob({ nodeId: 7, image: 'v6-node:0.1.0', targets: TARGETS, kind: V4, config: cfg });
  const compute = buildProbeJob({ nodeId: 7, image: 'v6-node:0.1.0', targets: TARGETS, kind: COMPUTE, config: cfg });
  const offline = buildProbeJob({ nodeId: 7, image: 'v6-node:0.1.0', targets: TARGETS, kind: OFFLINE, config: cfg });
  t.is(compute.metadata?.name, 'v6-node-7-isolation-probe-federated-compute');
  t.is(offline.metadata?.name, 'v6-node-7-isolation-probe-data-extraction');
  t.true(probeJobName(9007199254740991, 'federated_compute').length <= 63, 'an RFC 1123 label for any node id');
  t.notThrows(() => new Job(offline as never).validate());
  t.is(compute.spec!.template.metadata!.labels!['vantage6.ai/action'], 'federated_compute');
  t.is(offline.spec!.template.metadata!.labels!['vantage6.ai/action'], 'data_extraction');
  t.deepEqual(
    { ...offline.spec!.template.metadata!.labels!, 'vantage6.ai/action': undefined },
    { ...v4.spec!.template.metadata!.labels!, 'vantage6.ai/action': undefined },
    'otherwise the labels of the 4.x probe',
  );
  t.like(env(v4), { V6_PROBE_PROXY: 'reachable', V6_PROBE_TIMEOUT_MS: '7000', V6_PROBE_PROXY_WAIT_MS: '45000' });
  t.like(env(compute), { V6_PROBE_PROXY: 'reachable', V6_PROBE_PROXY_WAIT_MS: '45000' });
  t.like(env(offline), { V6_PROBE_PROXY: 'unreachable', V6_PROBE_TIMEOUT_MS: '7000', V6_PROBE_PROXY_WAIT_MS: '0' });
  t.deepEqual(offline.spec!.template.spec, { ...v4.spec!.template.spec!, containers: offline.spec!.template.spec!.containers }, 'the same pod otherwise');
});

test('targets: forbidden_url, else the API server of the kube config; the proxy at the address algorithms are given', (t) => {
  t.deepEqual(probeTargets(config(), 'https://10.43.0.1:443', PROXY), TARGETS);
  t.deepEqual(probeTargets(config(), 'https://[fd00::1]', PROXY)?.forbidden, { host: 'fd00::1', port: 443 });
  t.deepEqual(probeTargets(config(), 'https://10.43.0.1:443', 'http://[fd00::12]')?.proxy, { host: 'fd00::12', port: 7654 });
  const withUrl = config({ isolation: { image: 'v6-node:0.1.0', forbidden_url: 'http://v6.example.org' } });
  t.deepEqual(probeTargets(withUrl, 'https://10.43.0.1:443', PROXY)?.forbidden, { host: 'v6.example.org', port: 80 });
  t.deepEqual(probeTargets(config({ isolation: { image: 'v6-node:0.1.0', forbidden_url: 'tcp://db.internal:5432' } }), undefined, PROXY)?.forbidden, { host: 'db.internal', port: 5432 });
  t.is(probeTargets(config(), undefined, PROXY), undefined);
});

const SHOWN = { forbidden: '10.43.0.1:443', proxy: 'proxy:7654' };
const pod = (status: V1Pod['status']): V1Pod => ({ status });

const exited = (exitCode: number) => pod({ phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ name: 'probe', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode } } }] });

test('the verdict from the probe pod: exit codes, pull errors, and not yet', (t) => {
  t.is(outcomeOfPod(exited(0), V4, SHOWN)?.verdict, 'enforced');
  t.is(outcomeOfPod(exited(10), V4, SHOWN)?.verdict, 'not-enforced');
  t.is(outcomeOfPod(exited(11), V4, SHOWN)?.verdict, 'proxy-unreachable');
  t.is(outcomeOfPod(exited(1), V4, SHOWN)?.verdict, 'unknown');
  const pulling = pod({ phase: 'Pending', containerStatuses: [{ name: 'probe', image: 'v6-node:9', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } } }] });
  t.deepEqual(outcomeOfPod(pulling, V4, SHOWN), { verdict: 'unknown', reason: 'the probe image v6-node:9 cannot be pulled (ImagePullBackOff): not found' });
  t.is(outcomeOfPod(pod({ phase: 'Pending' }), V4, SHOWN), undefined);
  t.is(outcomeOfPod(pod({ phase: 'Running', containerStatuses: [{ name: 'probe', image: 'i', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }), V4, SHOWN), undefined);
  t.is(outcomeOfPod(pod({ phase: 'Failed', reason: 'Evicted' }), V4, SHOWN)?.verdict, 'unknown');
});

test('the verdict of a vantage6 5 probe names the action it stood for; a data_extraction probe that reaches the proxy is not enforced, and says what to install', (t) => {
  t.deepEqual(outcomeOfPod(exited(0), V4, SHOWN), { verdict: 'enforced', reason: 'the probe pod reached the proxy at proxy:7654 and not 10.43.0.1:443' });
  t.deepEqual(outcomeOfPod(exited(0), COMPUTE, SHOWN), {
    verdict: 'enforced',
    reason: 'the probe pod labelled as a federated_compute run reached the proxy at proxy:7654 and not 10.43.0.1:443',
  });
  t.deepEqual(outcomeOfPod(exited(0), OFFLINE, SHOWN), {
    verdict: 'enforced',
    reason: 'the probe pod labelled as a data_extraction run reached neither the proxy at proxy:7654 nor 10.43.0.1:443',
  });
  const leaked = outcomeOfPod(exited(12), OFFLINE, SHOWN)!;
  t.is(leaked.verdict, 'not-enforced');
  t.regex(leaked.reason, /^the probe pod labelled as a data_extraction run did not reach 10\.43\.0\.1:443 but did reach the proxy at proxy:7654: /);
  t.regex(leaked.reason, /-algorithms-offline NetworkPolicy/);
  t.regex(outcomeOfPod(exited(10), OFFLINE, SHOWN)!.reason, /^the probe pod labelled as a data_extraction run reached 10\.43\.0\.1:443, which/);
  t.regex(outcomeOfPod(exited(11), COMPUTE, SHOWN)!.reason, /^the probe pod labelled as a federated_compute run did not reach/);
});

test("a node's verdict: the first probe that is not enforced (with its action), else enforced with what each probe saw", (t) => {
  const computeOk: ProbeOutcome = { verdict: 'enforced', reason: 'compute ok', action: 'federated_compute' };
  const offlineOk: ProbeOutcome = { verdict: 'enforced', reason: 'offline ok', action: 'data_extraction' };
  const offlineLeak: ProbeOutcome = { verdict: 'not-enforced', reason: 'reached the proxy', action: 'data_extraction' };
  const computeDown: ProbeOutcome = { verdict: 'proxy-unreachable', reason: 'no proxy', action: 'federated_compute' };
  t.deepEqual(overallOutcome([computeOk, offlineOk]), { verdict: 'enforced', reason: 'compute ok; offline ok' });
  t.deepEqual(overallOutcome([computeOk, offlineLeak]), offlineLeak);
  t.deepEqual(overallOutcome([computeDown]), computeDown);
  t.deepEqual(overallOutcome([{ verdict: 'enforced', reason: 'v4 ok' }]), { verdict: 'enforced', reason: 'v4 ok' });
});

test('launches: only enforced (or not probed) unless unenforced isolation is allowed', (t) => {
  const states = ['enforced', 'not-probed', 'pending', 'not-enforced', 'proxy-unreachable', 'unknown'] as const;
  t.deepEqual(states.filter((s) => allowsLaunches(s, false)), ['enforced', 'not-probed']);
  t.deepEqual(states.filter((s) => allowsLaunches(s, true)), [...states]);
});

/** Runs the probe script as the pod of `kind` would, against local ports; resolves its exit code. */
function runScript(forbiddenPort: number, proxyPort: number, proxyWaitMs = 500, kind: ProbeKind = V4): Promise<number | null> {
  const child = spawn(process.execPath, ['-e', PROBE_SCRIPT], {
    env: {
      V6_PROBE_FORBIDDEN_HOST: '127.0.0.1',
      V6_PROBE_FORBIDDEN_PORT: String(forbiddenPort),
      V6_PROBE_PROXY_HOST: '127.0.0.1',
      V6_PROBE_PROXY_PORT: String(proxyPort),
      V6_PROBE_PROXY: kind.proxy,
      V6_PROBE_TIMEOUT_MS: '500',
      V6_PROBE_PROXY_WAIT_MS: String(proxyWaitMs),
    },
    stdio: 'ignore',
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

test('the probe script: 0 isolated, 10 forbidden reachable, 11 proxy unreachable; as a data_extraction run 12 proxy reachable', async (t) => {
  const open = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => open.listen(0, '127.0.0.1', resolve));
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const openPort = (open.address() as { port: number }).port;
  try {
    t.is(await runScript(closedPort, openPort), 0);
    t.is(await runScript(openPort, openPort), 10);
    t.is(await runScript(closedPort, closedPort), 11);
    t.is(await runScript(closedPort, closedPort, 0, OFFLINE), 0);
    t.is(await runScript(closedPort, openPort, 0, OFFLINE), 12);
    t.is(await runScript(openPort, closedPort, 0, OFFLINE), 10);
    t.is(await runScript(openPort, openPort, 0, OFFLINE), 10, 'the forbidden destination first: not enforced at all');
  } finally {
    open.close();
  }
});

test('the probe keeps trying a proxy that starts late for the proxy wait, beyond the connect timeout', async (t) => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const forbiddenPort = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const late = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => late.listen(0, '127.0.0.1', resolve));
  const proxyPort = (late.address() as { port: number }).port;
  await new Promise<void>((resolve) => late.close(() => resolve()));
  // The proxy comes up 1.5 s after the probe starts: three connect timeouts later.
  const opening = setTimeout(() => late.listen(proxyPort, '127.0.0.1'), 1500);
  try {
    t.is(await runScript(forbiddenPort, proxyPort, 500), 11, 'with no wait beyond the timeout it gives up');
    t.is(await runScript(forbiddenPort, proxyPort, 10_000), 0);
  } finally {
    clearTimeout(opening);
    late.close();
  }
});

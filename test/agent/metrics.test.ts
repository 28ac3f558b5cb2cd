// Metrics, probes, the dashboard and `v6-node status` against a whole node: world + agent (as
// `v6-node start` composes it) + proxy (as `v6-node proxy` composes it).
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { DummyCryptor } from '../../agent/protocol/encryption.js';
import { serveAgent, type ServedAgent } from '../../agent/serve.js';
import type { StatusReport } from '../../agent/status/report.js';
import { serveProxy, type ProxyProcess } from '../../proxy/main.js';
import type { UserClient } from '../dev-server/user-client.js';
import { freePort } from '../support/ports.js';
import {
  dashboardExpressions,
  documentedMetrics,
  familyOf,
  metricNamesOf,
  parseExposition,
  series,
  total,
  type Scrape,
} from '../support/prometheus.js';
import { ALGORITHM_IMAGE, FEDERATED_IMAGE, NAMESPACE, startWorld, testLogger, type World } from '../support/world.js';
import { createTask, researcherOf, TIMINGS, waitFor, waitForRunStatus } from './run-helpers.js';

const NODE = 1;
const ORG = 1;
const PREFIX = 'metrics-1';

let world: World;
let served: ServedAgent;
let proxy: ProxyProcess;
let proxyRedis: Redis;
let researcher: UserClient;
const scrapes: { agent?: Scrape; proxy?: Scrape } = {};

test.before(async () => {
  world = await startWorld();
  const proxyPort = await freePort();
  const config = world.config(NODE, {
    policies: { allowed_algorithms: ['^v6-test/.*'] },
    queue: { prefix: PREFIX, concurrency: 4, max_active_jobs: 2 },
    proxy: { url: 'http://127.0.0.1', port: proxyPort, listen_port: proxyPort },
  });
  const logger = testLogger();
  proxyRedis = new Redis(world.redisUrl, { maxRetriesPerRequest: 1 });
  proxyRedis.on('error', () => {});
  proxy = await serveProxy({ config, logger, cryptor: new DummyCryptor(), redis: proxyRedis, host: '127.0.0.1', metricsPort: 0, closeGraceMs: 500 });
  served = await serveAgent({ config, logger, kubeConfig: world.kubeConfig, timings: TIMINGS, metricsPort: 0, metricsHost: '127.0.0.1' });
  researcher = await researcherOf(world);
});

test.after.always(async () => {
  await served?.close();
  await proxy?.close();
  proxyRedis?.disconnect();
  await world?.close();
});

async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) throw new Error(`GET ${url}/metrics: ${response.status}`);
  return parseExposition(await response.text());
}

async function probe(url: string, path: '/livez' | '/readyz'): Promise<{ status: number; body: { status: string; failing?: string[]; checks?: Record<string, boolean> } }> {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as { status: string; failing?: string[]; checks?: Record<string, boolean> } };
}

/** Histogram invariants: cumulative buckets, +Inf equals _count. */
function assertHistogram(t: ExecutionContext, s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const buckets = series(s, `${name}_bucket`, labels);
  t.true(buckets.length > 1, `${name} has buckets`);
  const values = buckets.map((b) => b.value);
  t.deepEqual(values, [...values].sort((a, b) => a - b), `${name} buckets are cumulative`);
  const count = total(s, `${name}_count`, labels);
  t.is(buckets.find((b) => b.labels.le === '+Inf')?.value, count, `${name} +Inf bucket equals _count`);
  return count;
}

test.serial('after a federated run through the proxy, /metrics of agent and proxy expose every documented series with plausible values', async (t) => {
  // central_average at organization 1 creates its subtask through the proxy, polls its results
  // there, and combines them: two runs, create-task and results routes, result decryption.
  const task = await createTask(researcher, {
    input: Buffer.from(
      JSON.stringify({ method: 'central_average', kwargs: { column: 'age', organizations: [ORG], collaboration_id: 1, image: FEDERATED_IMAGE } }),
    ).toString('base64'),
    image: FEDERATED_IMAGE,
    name: 'metrics central',
  });
  const [run] = await researcher.waitForTask(task.id, { timeoutMs: 60_000 });
  t.is(run?.status, 'completed', run?.log ?? '');
  const agent = await waitFor('both runs counted finished', async () => {
    const s = await scrape(served.health.url);
    return total(s, 'v6_node_runs_finished_total', { status: 'completed' }) >= 2 && s;
  });
  const proxied = await scrape(proxy.metricsUrl);
  scrapes.agent = agent;
  scrapes.proxy = proxied;

  // Every documented metric is exported by one of the two; every exported v6-node metric is documented.
  const documented = await documentedMetrics();
  t.true(documented.length >= 20, 'the README documents the metrics');
  const both: Scrape = { samples: [...agent.samples, ...proxied.samples], types: new Map([...agent.types, ...proxied.types]) };
  // A family is exported once declared (a labelled counter without observations has no samples yet).
  const families = new Set([...both.samples.map((s) => familyOf(both, s.name)), ...both.types.keys()]);
  for (const name of documented) {
    t.true(families.has(name), `${name} is exported`);
  }
  for (const name of families) {
    if (name.startsWith('v6_node_') || name.startsWith('bullmq_')) t.true(documented.includes(name), `${name} is documented`);
  }
  for (const name of families) t.notRegex(name, /run_id|task_id/);
  for (const sample of [...agent.samples, ...proxied.samples]) {
    t.false('run_id' in sample.labels || 'task_id' in sample.labels || 'run' in sample.labels, `${sample.name} has no run label`);
  }

  // Agent: queues, runs, latencies, capacity, connection, tokens, process defaults.
  t.true(total(agent, 'bullmq_job_count', { queue: 'launch', state: 'completed' }) >= 2);
  t.is(total(agent, 'bullmq_job_count', { queue: 'launch', state: 'failed' }), 0);
  t.true(series(agent, 'bullmq_job_count', { queue: 'report' }).length >= 6, 'every state of the report queue');
  t.is(total(agent, 'v6_node_runs_finished_total', { status: 'crashed' }), 0);
  t.true(assertHistogram(t, agent, 'v6_node_run_queue_wait_seconds') >= 2);
  t.true(assertHistogram(t, agent, 'v6_node_run_start_latency_seconds') >= 2);
  t.true(assertHistogram(t, agent, 'v6_node_run_duration_seconds') >= 2);
  t.true(total(agent, 'v6_node_run_duration_seconds_sum') >= 0); // Kubernetes times are whole seconds: a quick run may take 0
  t.true(assertHistogram(t, agent, 'v6_node_run_report_latency_seconds') >= 2);
  t.is(total(agent, 'v6_node_jobs_max'), 2);
  const alive = total(agent, 'v6_node_jobs_alive');
  t.true(alive >= 0 && alive <= 2);
  t.is(total(agent, 'v6_node_server_connected'), 1);
  t.true(total(agent, 'v6_node_server_tokens_total', { kind: 'login' }) >= 1);
  t.is(total(agent, 'v6_node_isolation_state'), 1, 'exactly one isolation state is current');
  t.true(total(agent, 'process_cpu_seconds_total') > 0);
  t.true(total(agent, 'process_resident_memory_bytes') > 0);

  // Proxy: the routes the central algorithm took, 2xx; bytes both ways; decryption timed.
  const ok = (route: string) => series(proxied, 'v6_node_proxy_requests_total', { route }).filter((s) => /^2\d\d$/.test(s.labels.status!)).reduce((a, s) => a + s.value, 0);
  t.is(ok('create-task'), 1);
  t.true(ok('results') >= 1);
  t.is(total(proxied, 'v6_node_proxy_requests_total', { route: 'none' }), 0);
  t.is(assertHistogram(t, proxied, 'v6_node_proxy_request_duration_seconds', { route: 'create-task' }), 1);
  t.true(total(proxied, 'v6_node_proxy_received_bytes_total', { route: 'create-task' }) > 100, 'the subtask body was received');
  t.true(total(proxied, 'v6_node_proxy_sent_bytes_total', { route: 'results' }) > 0);
  t.is(total(proxied, 'v6_node_proxy_requests_in_flight'), 0);
  t.true(assertHistogram(t, proxied, 'v6_node_proxy_crypto_seconds', { operation: 'decrypt' }) >= 1);
  t.true(total(proxied, 'process_cpu_seconds_total') > 0);
});

test.serial('every PromQL expression of the Grafana dashboard names only metrics the agent or proxy exports', async (t) => {
  if (!scrapes.agent || !scrapes.proxy) return t.fail('needs the scrapes of the previous test');
  const dashboard = JSON.parse(await readFile(new URL('../../queue/dashboard.json', import.meta.url), 'utf8')) as { panels: unknown[] };
  // Selectable names: every sample name, every declared family (a counter without observations yet),
  // and a histogram's _bucket, _sum and _count series (a histogram family name alone is not selectable).
  const exported = new Set([...scrapes.agent.samples, ...scrapes.proxy.samples].map((s) => s.name));
  for (const [family, type] of [...scrapes.agent.types, ...scrapes.proxy.types]) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${family}${suffix}`);
    else exported.add(family);
  }
  const expressions = dashboardExpressions(dashboard);
  t.true(expressions.length >= 25, `found ${expressions.length} expressions`);
  const named = new Set<string>();
  for (const expr of expressions) {
    const names = metricNamesOf(expr);
    t.true(names.length > 0, `"${expr}" names a metric`);
    for (const name of names) {
      named.add(name);
      t.true(exported.has(name), `"${name}" (in ${expr}) is exported`);
    }
  }
  // The dashboard covers what the issue asks for.
  for (const name of ['bullmq_job_count', 'v6_node_runs_finished_total', 'v6_node_run_queue_wait_seconds_bucket', 'v6_node_run_duration_seconds_bucket', 'v6_node_server_connected', 'v6_node_proxy_requests_total', 'v6_node_proxy_received_bytes_total']) {
    t.true(named.has(name), `the dashboard shows ${name}`);
  }
});

test.serial('v6-node status shows a running and a queued run, as JSON and as a table', async (t) => {
  // The cap is 2: two sleeping runs take it, the third, created once they run, stays queued.
  const sleepers: Array<{ id: number }> = [];
  for (const name of ['sleep a', 'sleep b']) {
    sleepers.push(await createTask(researcher, { method: 'sleep', kwargs: { seconds: 30 }, organizationId: ORG, name }));
  }
  await waitForRunStatus(world, sleepers[0]!.id, ORG, 'active');
  await waitForRunStatus(world, sleepers[1]!.id, ORG, 'active');
  sleepers.push(await createTask(researcher, { method: 'sleep', kwargs: { seconds: 30 }, organizationId: ORG, name: 'sleep c' }));
  const queuedRun = await waitFor('the third run received', () => world.server.state.runsOfTask(sleepers[2]!.id)[0]);

  const configPath = join(world.root, 'status-node.yaml');
  const node = world.server.fixtures.nodes.find((n) => n.id === NODE)!;
  await writeFile(
    configPath,
    stringify({
      api_key: node.api_key,
      server_url: 'http://127.0.0.1',
      kubernetes: { namespace: NAMESPACE, task_volume: { claim_name: 'v6-tasks-org1' }, node_name: 'worker-1' },
      redis: { url: world.redisUrl },
      queue: { prefix: PREFIX },
      proxy: { url: 'http://proxy' },
      isolation: { probe: false },
      logging: { level: 'fatal' },
    }),
  );
  const env = { ...process.env, KUBECONFIG: world.cluster.kubeconfigPath };
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'agent/cli.ts', 'status', '--config', configPath, ...args], { env });

  const report = await waitFor('status to show the third run queued', async () => {
    const parsed = JSON.parse((await cli('--json')).stdout) as StatusReport;
    return parsed.runs.some((r) => r.run === queuedRun.id) && parsed;
  });
  t.is(report.node_id, NODE);
  t.is(report.namespace, NAMESPACE);
  const row = (taskId: number) => report.runs.find((r) => r.task === taskId);
  for (const running of sleepers.slice(0, 2)) {
    t.like(row(running.id), { status: 'active', image: ALGORITHM_IMAGE });
    t.regex(row(running.id)?.job ?? '', /^v6-node-1-run-\d+$/);
  }
  t.like(row(sleepers[2]!.id), { run: queuedRun.id, image: '', job: null });
  // Held at the cap: in the launch queue (a worker may hold it between capacity checks), no Job.
  t.true(['queued', 'retrying', 'launching'].includes(row(sleepers[2]!.id)!.status), row(sleepers[2]!.id)!.status);
  const launch = report.queues.launch ?? {};
  t.true(['waiting', 'delayed', 'prioritized', 'active'].reduce((sum, state) => sum + (launch[state] ?? 0), 0) >= 1, JSON.stringify(launch));
  t.true(report.runs.every((r) => r.age_seconds >= 0));

  const table = (await cli()).stdout;
  t.regex(table, /^QUEUE\s+WAITING/m);
  t.regex(table, /^launch\s+\d+/m);
  t.regex(table, new RegExp(`^${queuedRun.id}\\s+${sleepers[2]!.id}\\s+-\\s+(queued|retrying|launching)\\s+\\d+s$`, 'm'));
  t.regex(table, new RegExp(`\\s${ALGORITHM_IMAGE.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+active\\s`));

  const s = await scrape(served.health.url);
  t.is(total(s, 'v6_node_jobs_alive'), 2, 'the cap is reached');
  for (const sleeper of sleepers) await researcher.kill(sleeper.id);
});

test.serial('/readyz goes unready naming Redis while Redis is down, and ready again after; /livez stays alive', async (t) => {
  await waitFor('ready', async () => (await probe(served.health.url, '/readyz')).status === 200);
  const ready = await probe(served.health.url, '/readyz');
  t.deepEqual(ready.body, {
    status: 'ready',
    failing: [],
    checks: { loggedIn: true, socketConnected: true, redisReachable: true, clusterReachable: true, clusterAccess: true },
  });
  t.like(await probe(served.health.url, '/livez'), { status: 200, body: { status: 'alive' } });

  await world.redis!.stop();
  const down = await waitFor('unready', async () => {
    const r = await probe(served.health.url, '/readyz');
    return r.status === 503 && r;
  });
  t.deepEqual(down.body.failing, ['redisReachable']);
  t.like(await probe(proxy.metricsUrl, '/readyz'), { status: 503, body: { failing: ['redisReachable'] } });
  t.is((await probe(served.health.url, '/livez')).status, 200);
  // A scrape still answers; the queue counts are left out while Redis is away.
  t.deepEqual(series(await scrape(served.health.url), 'bullmq_job_count'), []);

  await world.redis!.start();
  await waitFor('ready again', async () => (await probe(served.health.url, '/readyz')).status === 200);
  await waitFor('the proxy ready again', async () => (await probe(proxy.metricsUrl, '/readyz')).status === 200);
  await waitFor('queue counts back', async () => series(await scrape(served.health.url), 'bullmq_job_count').length > 0);
  t.pass();
});

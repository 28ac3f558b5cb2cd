// The Grafana dashboard and the chart's alert rules against a real Prometheus: two nodes of a
// world (agent as `v6-node start` composes it, proxy as `v6-node proxy` does) scraped under one
// job, as the chart's ServiceMonitor names it, beside Prometheus scraping itself (another exporter
// with process_* series of its own). Every panel's expressions must evaluate, and every selector
// in them return the nodes' own series only, as Grafana's "All" sends them; the rules must pass
// promtool and evaluate on the nodes' series.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { DummyCryptor } from '../../agent/protocol/encryption.js';
import { serveAgent, type ServedAgent } from '../../agent/serve.js';
import { serveProxy, type ProxyProcess } from '../../proxy/main.js';
import { freePort } from '../support/ports.js';
import { metricNamesOf } from '../support/prometheus.js';
import { checkRules, startPrometheus, type Prometheus } from '../support/prometheus-server.js';
import { startWorld, testLogger, type World } from '../support/world.js';
import { createTask, researcherOf, TIMINGS, waitFor, waitForRunStatus } from './run-helpers.js';
import { RELEASE, render } from '../helm/render.js';

/** The job the chart's ServiceMonitor gives both endpoints: the node Service's name. */
const JOB = `${RELEASE}-v6-node`;
const NAMESPACE = 'vantage6';
const ALERTS = ['V6NodeServerDisconnected', 'V6NodeIsolationNotEnforced', 'V6NodeQueueStuck', 'V6NodeRunsFailing'];
const NODES = [1, 2] as const;

interface Panel {
  readonly type: string;
  readonly title: string;
  readonly targets?: ReadonlyArray<{ readonly expr: string }>;
  readonly fieldConfig?: { readonly defaults?: { readonly unit?: string } };
}
interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: ReadonlyArray<{ readonly name: string; readonly definition?: string; readonly allValue?: string }> };
}

let world: World;
let prometheus: Prometheus;
const closers: Array<() => Promise<unknown>> = [];
let dashboard: Dashboard;
let rulesFile: string;

test.before(async () => {
  world = await startWorld();
  dashboard = JSON.parse(await readFile(new URL('../../queue/dashboard.json', import.meta.url), 'utf8')) as Dashboard;
  const targets: Array<{ targets: string[]; labels: Record<string, string> }> = [];
  for (const nodeId of NODES) {
    const proxyPort = await freePort();
    const config = world.config(nodeId, {
      queue: { prefix: `dashboard-prometheus-${nodeId}`, concurrency: 2 },
      proxy: { url: 'http://127.0.0.1', port: proxyPort, listen_port: proxyPort },
    });
    const logger = testLogger();
    const redis = new Redis(world.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    closers.unshift(async () => redis.disconnect());
    const proxy: ProxyProcess = await serveProxy({ config, logger, cryptor: new DummyCryptor(), redis, host: '127.0.0.1', metricsPort: 0, closeGraceMs: 500 });
    closers.unshift(() => proxy.close());
    const served: ServedAgent = await serveAgent({ config, logger, kubeConfig: world.kubeConfig, timings: TIMINGS, metricsPort: 0, metricsHost: '127.0.0.1' });
    closers.unshift(() => served.close());
    // As the chart's ServiceMonitor labels them: one job, the pod's namespace, pod and container.
    const pod = `v6-node-${nodeId}-0`;
    targets.push({ targets: [new URL(served.health.url).host], labels: { namespace: NAMESPACE, pod, container: 'agent' } });
    targets.push({ targets: [new URL(proxy.metricsUrl).host], labels: { namespace: NAMESPACE, pod, container: 'proxy' } });
  }
  // The chart's PrometheusRule, rendered for this namespace, as a Prometheus rule file.
  const rule = (await render({ namespace: NAMESPACE, set: ['metrics.prometheusRule.enabled=true'] })).find((o) => o.kind === 'PrometheusRule')!;
  rulesFile = join(world.root, 'v6-node-rules.yaml');
  await writeFile(rulesFile, stringify({ groups: (rule.spec as { groups: unknown[] }).groups }));
  prometheus = await startPrometheus({ scrapeConfigs: [{ job_name: JOB, static_configs: targets }], ruleFiles: [rulesFile] });
  closers.unshift(() => prometheus.close());
  // One run finished, so the run histograms and counters have series.
  const researcher = await researcherOf(world);
  const task = await createTask(researcher, { method: 'echo', kwargs: { n: 1 }, organizationId: 1 });
  await waitForRunStatus(world, task.id, 1, 'completed');
  await prometheus.waitForTargetsUp();
  // Rates need two scrapes of each target within the range the test substitutes for $__rate_interval.
  await waitFor('two scrapes of every target', async () => (await prometheus.query(`count_over_time(process_cpu_seconds_total{job="${JOB}"}[10s]) >= 2`)).length === 2 * NODES.length, 30_000);
  await waitFor('the run histogram scraped', async () => (await prometheus.query('v6_node_run_duration_seconds_count')).length > 0, 30_000);
});

test.after.always(async () => {
  for (const close of closers) await close();
  await world?.close();
});

/** What Grafana sends for "All": $job as the regex of the values its label_values query finds. */
async function allJobs(): Promise<string> {
  const variable = dashboard.templating.list.find((v) => v.name === 'job')!;
  const selector = /^label_values\((.+), job\)$/.exec(variable.definition ?? '')![1]!.replace('$namespace', '.*');
  const jobs = (await prometheus.query(`group by (job) (${selector})`)).map((s) => s.metric.job!);
  return `(${jobs.join('|')})`;
}

function substitute(expr: string, job: string): string {
  return expr.replaceAll('$job', job).replaceAll('$namespace', '.*').replaceAll('$__rate_interval', '10s');
}

/** The vector selectors of an expression (`name{matchers}`). */
function selectors(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}/g)].map((m) => m[0]);
}

const panelsWithTargets = (): Panel[] => dashboard.panels.filter((p) => p.type !== 'row');

test.serial('the fixture: Prometheus\'s own process series sit beside the nodes\' (what "All" used to mix in)', async (t) => {
  const jobs = new Set((await prometheus.query('process_resident_memory_bytes')).map((s) => s.metric.job));
  t.deepEqual([...jobs].sort(), ['prometheus', JOB]);
  t.is(await allJobs(), `(${JOB})`, 'the job variable lists the nodes\' job only');
});

test.serial('every panel\'s expressions evaluate in Prometheus, and each of their selectors returns the nodes\' own series only', async (t) => {
  const job = await allJobs();
  let nonEmpty = 0;
  for (const panel of panelsWithTargets()) {
    t.true((panel.targets ?? []).length > 0, `${panel.title} has a query`);
    for (const { expr } of panel.targets ?? []) {
      const query = substitute(expr, job);
      await t.notThrowsAsync(prometheus.query(query), `${panel.title}: ${query}`);
      t.is(selectors(expr).length, metricNamesOf(expr).length, `${panel.title}: every metric of "${expr}" has a selector`);
      for (const selector of selectors(query)) {
        t.true(selector.includes(`job=~"${job}"`), `${panel.title}: ${selector} selects by job`);
        const found = await prometheus.query(selector);
        if (found.length > 0) nonEmpty += 1;
        for (const series of found) {
          t.is(series.metric.job, JOB, `${panel.title}: ${selector} returned ${JSON.stringify(series.metric)}`);
          t.regex(series.metric.pod ?? '', /^v6-node-\d-0$/);
        }
      }
    }
  }
  t.true(nonEmpty >= 20, `${nonEmpty} selectors returned series`);
});

test.serial('the process panels show each node\'s agent and proxy, and nothing of Prometheus', async (t) => {
  const job = await allJobs();
  for (const title of ['Memory (RSS)', 'CPU', 'Event loop lag p99', 'Heap used']) {
    const panel = panelsWithTargets().find((p) => p.title === title)!;
    const found = await prometheus.query(substitute(panel.targets![0]!.expr, job));
    t.deepEqual(
      found.map((s) => `${s.metric.pod} ${s.metric.container}`).sort(),
      ['v6-node-1-0 agent', 'v6-node-1-0 proxy', 'v6-node-2-0 agent', 'v6-node-2-0 proxy'],
      title,
    );
  }
});

test.serial('the server connection is shown per node, each connected', async (t) => {
  const job = await allJobs();
  for (const title of ['Server connection', 'Server connection over time']) {
    const panel = panelsWithTargets().find((p) => p.title === title)!;
    const found = await prometheus.query(substitute(panel.targets![0]!.expr, job));
    t.deepEqual(found.map((s) => [s.metric.pod, s.value]).sort(), [['v6-node-1-0', 1], ['v6-node-2-0', 1]], title);
  }
});

test('every panel has a unit; a panel in seconds shows only seconds, and no other panel shows seconds', (t) => {
  for (const panel of panelsWithTargets()) {
    const unit = panel.fieldConfig?.defaults?.unit;
    t.truthy(unit, `${panel.title} has a unit`);
    for (const { expr } of panel.targets ?? []) {
      const inSeconds = metricNamesOf(expr).every((name) => /_seconds(_bucket|_sum|_count)?$/.test(name));
      t.is(unit === 's', inSeconds, `${panel.title} (${unit}): ${expr}`);
    }
  }
});

test.serial('promtool check rules passes the chart\'s alert rules', async (t) => {
  t.regex(await checkRules(rulesFile), /SUCCESS: 4 rules found/);
});

test.serial('Prometheus evaluates every alert on the nodes\' series: isolation not enforced is pending for each node (the world\'s cluster does not enforce NetworkPolicies), the others quiet', async (t) => {
  const alerting = async () => (await prometheus.rules()).flatMap((group) => group.rules).filter((rule) => rule.type === 'alerting');
  await waitFor('every alert rule evaluated', async () => (await alerting()).every((rule) => rule.health !== 'unknown'), 30_000);
  const rules = await alerting();
  t.deepEqual(rules.map((rule) => rule.name), ALERTS);
  for (const rule of rules) t.is(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
  // Every metric an alert reads exists under the node's job.
  const rendered = await readFile(rulesFile, 'utf8');
  for (const name of new Set([...rendered.matchAll(/\b([a-z][a-z0-9_]*)\{job=/g)].map((m) => m[1]!))) {
    t.true((await prometheus.query(`{__name__="${name}", job="${JOB}"}`)).length > 0, `${name} is exported`);
  }
  const alerts = (name: string) => rules.find((rule) => rule.name === name)!.alerts ?? [];
  t.deepEqual(alerts('V6NodeIsolationNotEnforced').map((a) => [a.labels.pod, a.state]).sort(), [['v6-node-1-0', 'pending'], ['v6-node-2-0', 'pending']]);
  for (const name of ['V6NodeServerDisconnected', 'V6NodeQueueStuck', 'V6NodeRunsFailing']) t.deepEqual(alerts(name), [], name);
});

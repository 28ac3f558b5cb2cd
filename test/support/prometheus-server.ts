// A real Prometheus (Debian's `prometheus` package, installed when absent and this process is
// root) on a free port with the scrape configs and rule files given and a storage folder of its
// own; its HTTP API queried as Grafana and Alertmanager would. `promtool check rules` from the
// same package. Reusable against any target, the real cluster's too.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ensureDebianPackages } from '../cluster/images/apt.js';
import { freePort } from './ports.js';

const exec = promisify(execFile);

/** One series of an instant query's answer. */
export interface PromSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape target as /api/v1/targets reports it. */
export interface PromTarget {
  readonly labels: Readonly<Record<string, string>>;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
}

/** A rule group as /api/v1/rules reports it; `health` is 'unknown' until a rule was first evaluated. */
export interface PromRuleGroup {
  readonly name: string;
  readonly rules: ReadonlyArray<{
    readonly name: string;
    readonly type: 'alerting' | 'recording';
    readonly health: 'ok' | 'err' | 'unknown';
    readonly lastError?: string;
    readonly alerts?: ReadonlyArray<{ readonly labels: Readonly<Record<string, string>>; readonly state: 'pending' | 'firing' }>;
  }>;
}

export interface PrometheusOptions {
  /** `scrape_configs` entries (job_name, static_configs, ...); Prometheus's own job is added unless `scrapeItself` is false. */
  readonly scrapeConfigs: readonly Record<string, unknown>[];
  /** Rule files to load (`rule_files`). */
  readonly ruleFiles?: readonly string[];
  /** Default 1 s: a test sees a series a second after it is exported. */
  readonly scrapeIntervalSeconds?: number;
  /** Default true: a `prometheus` job scraping this server, i.e. another exporter's series beside the targets'. */
  readonly scrapeItself?: boolean;
}

export interface Prometheus {
  /** e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The instant query `expr` now; throws with Prometheus's error when it does not parse or evaluate. */
  query(expr: string): Promise<PromSeries[]>;
  targets(): Promise<PromTarget[]>;
  /** Waits until every target has been scraped successfully at least once. */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  /** The rule groups loaded, with each rule's health and, for alerting rules, its alerts (`/api/v1/rules`). */
  rules(): Promise<PromRuleGroup[]>;
  /** Stops the server and removes its storage. Idempotent. */
  close(): Promise<void>;
}

/** Makes sure Debian's prometheus (prometheus and promtool) is installed. */
export async function ensurePrometheus(): Promise<void> {
  await ensureDebianPackages(['prometheus']);
}

export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  await ensurePrometheus();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'v6-prometheus-'));
  const address = `127.0.0.1:${port}`;
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const selfJob = options.scrapeItself === false ? [] : [{ job_name: 'prometheus', static_configs: [{ targets: [address] }] }];
  const configPath = join(dir, 'prometheus.yml');
  await writeFile(
    configPath,
    stringify({
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      ...(options.ruleFiles === undefined ? {} : { rule_files: options.ruleFiles }),
      scrape_configs: [...selfJob, ...options.scrapeConfigs],
    }),
  );
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${configPath}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${address}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://${address}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    })());

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.errorType ?? response.status}: ${body.error ?? ''}`);
    return body.data;
  };

  try {
    await until(async () => (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) || (child.exitCode !== null && 'exited'), 30_000, () => `Prometheus not ready: ${stderr}`);
    if (child.exitCode !== null) throw new Error(`Prometheus exited with ${child.exitCode}: ${stderr}`);
  } catch (error) {
    await close();
    throw error;
  }

  const targets = async (): Promise<PromTarget[]> => (await api<{ activeTargets: PromTarget[] }>('/api/v1/targets')).activeTargets;
  return {
    url,
    query: async (expr) => {
      const data = await api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (data.resultType !== 'vector') throw new Error(`"${expr}" is a ${data.resultType}, not an instant vector`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    targets,
    waitForTargetsUp: (timeoutMs = 30_000) =>
      until(async () => {
        const all = await targets();
        return all.length > 0 && all.every((target) => target.health === 'up');
      }, timeoutMs, () => 'Prometheus targets not all up'),
    rules: async () => (await api<{ groups: PromRuleGroup[] }>('/api/v1/rules')).groups,
    close,
  };
}

/** `promtool check rules <file>`: resolves with its output, rejects with it when the file does not pass. */
export async function checkRules(path: string): Promise<string> {
  await ensurePrometheus();
  try {
    const { stdout, stderr } = await exec('promtool', ['check', 'rules', path]);
    return `${stdout}${stderr}`;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`promtool check rules ${path} failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}

async function until(probe: () => Promise<unknown>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() >= deadline) throw new Error(what());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

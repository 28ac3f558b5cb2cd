/**
 * The agent's Prometheus metrics (prom-client), fed by the hooks the run modules, the cluster
 * client, the server client and the socket call (`NodeMetrics`), and by gauges read at scrape time
 * (BullMQ counts, live Jobs). Labels are bounded: queue, state, status, verb, code, kind — never a
 * run id.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics.js';
import type { IsolationState } from '../../agent/isolation/verdict.js';
import type { JobCapacity } from '../../agent/runs/capacity.js';
import type { NodeMetrics } from '../../agent/node-agent.js';
import { isRunStatus, hasRunFinished, RunStatus } from '../../agent/protocol/run-status.js';
import type { RunQueues } from '../run-queues.js';

/** How long a scrape waits for Redis before it leaves the queue counts out. */
const QUEUE_COUNT_TIMEOUT_MS = 2_000;

export const QUEUE_WAIT_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
export const START_LATENCY_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
export const RUN_DURATION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
export const REPORT_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The statuses a finished run can have: the label values of `v6_node_runs_finished_total`. */
const FINAL_STATUSES = Object.values(RunStatus).filter((status) => hasRunFinished(status));

/** agent/isolation/verdict.ts `IsolationState`, as label values (the type check keeps the two in step). */
export const ISOLATION_STATES = ['enforced', 'not-enforced', 'proxy-unreachable', 'unknown', 'pending', 'not-probed'] as const satisfies readonly IsolationState[];
type AllStatesListed = Exclude<IsolationState, (typeof ISOLATION_STATES)[number]> extends never ? true : never;
const allStatesListed: AllStatesListed = true;
void allStatesListed;

export interface AgentMetricsOptions {
  /** Node process metrics (`process_*`, `nodejs_*`); default true. Off in tests that make many registries. */
  readonly defaultMetrics?: boolean;
}

export class AgentMetrics implements NodeMetrics {
  readonly registry = new Registry();
  private queues: RunQueues | undefined;
  private capacity: JobCapacity | undefined;
  private readonly finished: Counter<'status'>;
  private readonly queueWaitSeconds: Histogram;
  private readonly startLatencySeconds: Histogram;
  private readonly runDurationSeconds: Histogram;
  private readonly reportLatencySeconds: Histogram;
  private readonly reportRetries: Counter;
  private readonly apiErrors: Counter<'verb' | 'code'>;
  private readonly watchRestarts: Counter;
  private readonly tokens: Counter<'kind'>;
  private readonly connected: Gauge;
  private readonly isolation: Gauge;
  private readonly isolationState: Gauge<'state'>;

  constructor(options: AgentMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectProcessMetrics(this.registry);
    // BullMQ's own exposition convention (Queue.exportPrometheusMetrics), read at scrape time.
    const parts = (): { queues?: RunQueues | undefined; capacity?: JobCapacity | undefined } => ({ queues: this.queues, capacity: this.capacity });
    new Gauge({
      name: 'bullmq_job_count',
      help: 'Number of jobs in the queue by state',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        const queues = parts().queues;
        if (!queues) return;
        for (const queue of [queues.launch, queues.report]) {
          const counts = await withTimeout(queue.getJobCounts(), QUEUE_COUNT_TIMEOUT_MS).catch(() => undefined);
          for (const [state, count] of Object.entries(counts ?? {})) this.set({ queue: queue.name, state }, count);
        }
      },
    });
    new Gauge({
      name: 'v6_node_jobs_alive',
      help: "This node's Kubernetes Jobs alive now (created and not finished), counted against queue.max_active_jobs",
      registers,
      collect() {
        const capacity = parts().capacity;
        if (capacity) this.set(capacity.alive());
      },
    });
    new Gauge({
      name: 'v6_node_jobs_max',
      help: 'The cap on live Jobs (queue.max_active_jobs)',
      registers,
      collect() {
        const capacity = parts().capacity;
        if (capacity) this.set(capacity.max);
      },
    });
    this.finished = new Counter({
      name: 'v6_node_runs_finished_total',
      help: 'Runs whose result was delivered to the server, by final vantage6 status',
      labelNames: ['status'],
      registers,
    });
    for (const status of FINAL_STATUSES) this.finished.inc({ status }, 0);
    this.queueWaitSeconds = new Histogram({
      name: 'v6_node_run_queue_wait_seconds',
      help: 'Run received (queued) → its Job created',
      buckets: QUEUE_WAIT_BUCKETS,
      registers,
    });
    this.startLatencySeconds = new Histogram({
      name: 'v6_node_run_start_latency_seconds',
      help: "Job created → the algorithm container running (image pull and scheduling included)",
      buckets: START_LATENCY_BUCKETS,
      registers,
    });
    this.runDurationSeconds = new Histogram({
      name: 'v6_node_run_duration_seconds',
      help: 'Algorithm container started → finished',
      buckets: RUN_DURATION_BUCKETS,
      registers,
    });
    this.reportLatencySeconds = new Histogram({
      name: 'v6_node_run_report_latency_seconds',
      help: "Sending one run's result to the server (read, encrypt, PATCH), successful attempts",
      buckets: REPORT_LATENCY_BUCKETS,
      registers,
    });
    this.reportRetries = new Counter({
      name: 'v6_node_run_report_retries_total',
      help: 'Report attempts that were retries (the server was away or refused for a while)',
      registers,
    });
    this.apiErrors = new Counter({
      name: 'v6_node_kubernetes_api_errors_total',
      help: 'Failed Kubernetes API calls, by verb and HTTP code ("connection" when there was no answer)',
      labelNames: ['verb', 'code'],
      registers,
    });
    this.watchRestarts = new Counter({
      name: 'v6_node_kubernetes_watch_restarts_total',
      help: 'Watches of Jobs or pods that failed and were restarted with a fresh list',
      registers,
    });
    this.tokens = new Counter({
      name: 'v6_node_server_tokens_total',
      help: 'Access tokens obtained from the vantage6 server, by kind (login or refresh)',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['login', 'refresh']) this.tokens.inc({ kind }, 0);
    this.connected = new Gauge({
      name: 'v6_node_server_connected',
      help: '1 while the socket session with the vantage6 server is authenticated (sync received), else 0',
      registers,
    });
    this.connected.set(0);
    this.isolation = new Gauge({
      name: 'v6_node_isolation_enforced',
      help: "1 when the isolation probe confirmed that the cluster enforces the algorithm NetworkPolicies, else 0 (not enforced, not known yet, or not probed: see v6_node_isolation_state)",
      registers,
    });
    this.isolationState = new Gauge({
      name: 'v6_node_isolation_state',
      help: "The isolation probe's state: 1 for the current one (enforced, not-enforced, proxy-unreachable, unknown, pending, not-probed), 0 for the others",
      labelNames: ['state'],
      registers,
    });
    this.setIsolationState('pending');
  }

  // NodeMetrics -------------------------------------------------------------------------------

  runFinished(status: string): void {
    this.finished.inc({ status: isRunStatus(status) ? status : 'other' });
  }

  queueWait(seconds: number): void {
    this.queueWaitSeconds.observe(seconds);
  }

  startLatency(seconds: number): void {
    this.startLatencySeconds.observe(seconds);
  }

  runDuration(seconds: number): void {
    this.runDurationSeconds.observe(seconds);
  }

  reportLatency(seconds: number): void {
    this.reportLatencySeconds.observe(seconds);
  }

  reportRetried(): void {
    this.reportRetries.inc();
  }

  kubernetesApiError(verb: string, code: string): void {
    this.apiErrors.inc({ verb, code: /^\d{3}$/.test(code) ? code : 'connection' });
  }

  watchRestarted(): void {
    this.watchRestarts.inc();
  }

  tokenObtained(kind: 'login' | 'refresh'): void {
    this.tokens.inc({ kind });
  }

  connectionChanged(connected: boolean): void {
    this.connected.set(connected ? 1 : 0);
  }

  observe(parts: { readonly queues: RunQueues; readonly capacity: JobCapacity }): void {
    this.queues = parts.queues;
    this.capacity = parts.capacity;
  }

  /** The isolation probe's state (agent/isolation/ `IsolationState`): feeds both isolation gauges. */
  setIsolationState(state: IsolationState): void {
    const known = (ISOLATION_STATES as readonly string[]).includes(state) ? state : 'unknown';
    for (const each of ISOLATION_STATES) this.isolationState.set({ state: each }, each === known ? 1 : 0);
    this.isolation.set(known === 'enforced' ? 1 : 0);
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

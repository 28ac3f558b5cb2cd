/**
 * What `v6-node status` shows, built from what Redis and the cluster hold. Pure: queue counts,
 * the queue jobs still to run, and the node's Jobs and pods in; one row per live run out.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { AnnotationKey, LabelKey } from '../kube/names.js';
import { observedRunStatus } from '../kube/observed-status.js';

export interface QueuedJob {
  readonly queue: 'launch' | 'report';
  /** BullMQ state: waiting, prioritized, delayed, active. */
  readonly state: string;
  readonly runId: number;
  readonly taskId: number;
  /** When the job was added (ms since the epoch). */
  readonly timestamp: number;
}

export interface RunRow {
  readonly run: number;
  readonly task: number;
  /** From the Job's annotation; empty while the run is only queued. */
  readonly image: string;
  /** `queued`, `retrying`, `launching`, a vantage6 status observed in the cluster, or `reporting`. */
  readonly status: string;
  readonly age_seconds: number;
  /** The Job's name, when there is one. */
  readonly job: string | null;
}

export interface StatusReport {
  readonly node_id: number | null;
  readonly namespace: string;
  readonly queues: Record<string, Record<string, number>>;
  readonly runs: RunRow[];
}

const QUEUE_STATUS: Record<string, string> = { waiting: 'queued', prioritized: 'queued', delayed: 'retrying', active: 'launching' };

function positiveInt(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

export function buildStatus(input: {
  nodeId: number | undefined;
  namespace: string;
  queues: Record<string, Record<string, number>>;
  queued: readonly QueuedJob[];
  jobs: readonly V1Job[];
  pods: readonly V1Pod[];
  now: number;
}): StatusReport {
  const rows = new Map<number, RunRow>();
  const age = (since: number) => Math.max(0, Math.round((input.now - since) / 1000));
  for (const job of input.queued.filter((j) => j.queue === 'launch')) {
    rows.set(job.runId, { run: job.runId, task: job.taskId, image: '', status: QUEUE_STATUS[job.state] ?? job.state, age_seconds: age(job.timestamp), job: null });
  }
  for (const job of input.jobs) {
    const runId = positiveInt(job.metadata?.labels?.[LabelKey.RunId]);
    if (runId === undefined) continue;
    const pods = input.pods.filter((pod) => pod.metadata?.labels?.[LabelKey.RunId] === String(runId));
    const created = job.metadata?.creationTimestamp === undefined ? input.now : new Date(job.metadata.creationTimestamp).getTime();
    rows.set(runId, {
      run: runId,
      task: positiveInt(job.metadata?.labels?.[LabelKey.TaskId]) ?? rows.get(runId)?.task ?? 0,
      image: job.metadata?.annotations?.[AnnotationKey.Image] ?? job.spec?.template.spec?.containers[0]?.image ?? '',
      status: observedRunStatus(job, pods).status,
      age_seconds: age(created),
      job: job.metadata?.name ?? null,
    });
  }
  for (const job of input.queued.filter((j) => j.queue === 'report')) {
    const row = rows.get(job.runId);
    rows.set(job.runId, {
      run: job.runId,
      task: job.taskId,
      image: row?.image ?? '',
      status: 'reporting',
      age_seconds: row?.age_seconds ?? age(job.timestamp),
      job: row?.job ?? null,
    });
  }
  return {
    node_id: input.nodeId ?? null,
    namespace: input.namespace,
    queues: input.queues,
    runs: [...rows.values()].sort((a, b) => a.run - b.run),
  };
}

/** `1h02m`, `3m05s`, `12s`. */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** The terminal view: queue counts by state, then the live runs. */
export function formatStatus(report: StatusReport): string {
  const states = ['waiting', 'prioritized', 'delayed', 'active', 'failed', 'completed'];
  const queues = table(
    ['QUEUE', ...states.map((s) => s.toUpperCase())],
    Object.entries(report.queues).map(([name, counts]) => [name, ...states.map((s) => String(counts[s] ?? 0))]),
  );
  const runs =
    report.runs.length === 0
      ? 'No live runs.'
      : table(
          ['RUN', 'TASK', 'IMAGE', 'STATUS', 'AGE'],
          report.runs.map((r) => [String(r.run), String(r.task), r.image || '-', r.status, formatAge(r.age_seconds)]),
        );
  const node = report.node_id === null ? 'unknown (the agent has not started yet; pass --node-id)' : String(report.node_id);
  return `Node ${node}, namespace ${report.namespace}\n\n${queues}\n\n${runs}\n`;
}

import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { ALGORITHM_CONTAINER, LabelKey, runObjectName } from '../kube/names.js';
import { observedRunStatus } from '../kube/observed-status.js';
import { RunStatus } from '../protocol/run-status.js';
import { backoffDelay } from '../../queue/backoff.js';
import type { RunContext, RunRef } from './context.js';

/**
 * Turns what the informer sees into run statuses: a status change of a live run is PATCHed and
 * emitted as `algorithm_status_change`; a finished run is handed to the report queue (once: the
 * queue dedupes by server and run id); a run's log lines are streamed as `algorithm_log` while it runs, if
 * the node shares logs. Informer events only name the run; this reads the cached Job and pods.
 */
export class RunWatcher {
  /** The last status published per live run; a restart republishes once, which is harmless. */
  private readonly published = new Map<number, string>();
  private readonly following = new Map<string, AbortController>();
  private readonly looking = new Set<number>();
  private readonly dirty = new Set<number>();
  /** Failed looks per run, and the timer of the look again; informer events alone may never come again. */
  private readonly failures = new Map<number, number>();
  private readonly retries = new Map<number, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly ctx: RunContext) {}

  /**
   * "Look at run N": bursts of events become one look, and looks at one run never overlap (an
   * event during a look asks for one more look after it).
   */
  runChanged(runId: number): void {
    if (this.closed) return;
    if (this.looking.has(runId)) {
      this.dirty.add(runId);
      return;
    }
    this.looking.add(runId);
    queueMicrotask(() => void this.look(runId));
  }

  private async look(runId: number): Promise<void> {
    try {
      do {
        this.dirty.delete(runId);
        await this.reconcile(runId).then(
          () => this.failures.delete(runId),
          (error: unknown) => {
            const failures = (this.failures.get(runId) ?? 0) + 1;
            this.failures.set(runId, failures);
            this.ctx.logger.warn({ runId, attempt: failures, err: error }, 'could not reconcile run state; looking again later');
            this.lookAgainLater(runId, failures);
          },
        );
      } while (this.dirty.has(runId) && !this.closed);
    } finally {
      this.looking.delete(runId);
    }
  }

  /**
   * A failed look (Redis or the server away) is tried again with backoff: a finished Job sends no
   * further event, so without it the run would never be reported.
   */
  private lookAgainLater(runId: number, failures: number): void {
    if (this.closed || this.retries.has(runId)) return;
    const timer = setTimeout(() => {
      this.retries.delete(runId);
      this.runChanged(runId);
    }, backoffDelay(failures, 500, 30_000));
    this.retries.set(runId, timer);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    for (const controller of this.following.values()) controller.abort();
    this.following.clear();
  }

  private async reconcile(runId: number): Promise<void> {
    const { ctx } = this;
    const name = runObjectName(ctx.identity.nodeId, runId);
    const job = ctx.informer.job(name);
    // An informer event for the run meets the expectation, also when the Job is gone already
    // (killed or cleaned up before any launch counted it); else it would hold a slot for minutes.
    ctx.capacity.observed(name);
    if (!job) {
      await this.jobGone(runId);
      return;
    }
    const pods = ctx.informer.podsOfRun(runId);
    const run = runRef(job);
    const observed = observedRunStatus(job, pods);
    if (observed.finished) {
      this.published.delete(runId);
      this.stopFollowing(runId);
      if ((await ctx.markers.read(runId)).killed) return;
      const added = await ctx.queues.enqueueReport({ ...run, status: observed.status, reason: observed.reason });
      if (added === 'added') {
        ctx.logger.info({ runId, taskId: run.taskId, status: observed.status, reason: observed.reason }, 'run finished');
        observeDurations(ctx, job, pods);
      }
      return;
    }
    if (this.published.get(runId) !== observed.status) {
      // Remembered only once the server has it, so a failed PATCH is sent again on the next look.
      await ctx.runs.patchRun(runId, { status: observed.status });
      this.published.set(runId, observed.status);
      if (observed.status === RunStatus.Active) observeStart(ctx, job, pods);
      ctx.events.statusChanged(run, observed.status);
      ctx.logger.info({ runId, taskId: run.taskId, status: observed.status }, 'run status changed');
    }
    if (observed.status === RunStatus.Active && ctx.config.share_algorithm_logs) this.follow(run, pods);
  }

  /**
   * A Job the agent had seen is gone. After a report that is the agent's own cleanup; after a
   * kill it is the kill. Otherwise someone deleted it outside the agent, and the run would stay
   * open at the server forever: report it.
   */
  private async jobGone(runId: number): Promise<void> {
    const { ctx } = this;
    if (!this.published.has(runId)) return;
    this.stopFollowing(runId);
    const markers = await ctx.markers.read(runId);
    if (!markers.killed && !(await ctx.queues.hasReport(runId))) {
      const taskId = Number((await ctx.queues.launchJob(runId))?.data.taskId ?? 0);
      await ctx.queues.enqueueReport({
        runId,
        taskId,
        status: RunStatus.UnknownError,
        reason: 'The run\'s Job was deleted from the cluster by something other than this node.',
      });
    }
    // Forgotten only now: if a step above failed, the next look must still know the run.
    this.published.delete(runId);
  }

  private follow(run: RunRef, pods: readonly V1Pod[]): void {
    for (const pod of pods) {
      const name = pod.metadata?.name;
      if (!name || this.following.has(name) || pod.status?.phase !== 'Running') continue;
      const controller = new AbortController();
      this.following.set(name, controller);
      this.ctx.objects
        .followLog(name, ALGORITHM_CONTAINER, (line) => this.ctx.events.logLine(run, line), controller.signal)
        .catch((error: unknown) => this.ctx.logger.debug({ runId: run.runId, err: error }, 'log stream ended'));
    }
  }

  private stopFollowing(runId: number): void {
    const prefix = `${runObjectName(this.ctx.identity.nodeId, runId)}-`;
    // The streams are not aborted: they drain what the container wrote last, and end with it.
    for (const pod of this.following.keys()) {
      if (pod.startsWith(prefix)) this.following.delete(pod);
    }
  }
}

function runRef(job: V1Job): RunRef {
  const labels = job.metadata?.labels ?? {};
  const parent = labels[LabelKey.ParentTaskId];
  return {
    runId: Number(labels[LabelKey.RunId]),
    taskId: Number(labels[LabelKey.TaskId]),
    parentId: parent === undefined ? null : Number(parent),
  };
}

function seconds(from: Date | string | undefined, to: Date | string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  return (new Date(to).getTime() - new Date(from).getTime()) / 1000;
}

/** Job created → container running. */
function observeStart(ctx: RunContext, job: V1Job, pods: readonly V1Pod[]): void {
  const running = pods[0]?.status?.containerStatuses?.[0]?.state?.running?.startedAt;
  const latency = seconds(job.metadata?.creationTimestamp, running);
  if (latency !== undefined) ctx.metrics.startLatency?.(Math.max(0, latency));
}

/** Container started → finished. */
function observeDurations(ctx: RunContext, job: V1Job, pods: readonly V1Pod[]): void {
  const terminated = pods[0]?.status?.containerStatuses?.[0]?.state?.terminated;
  const duration = seconds(terminated?.startedAt, terminated?.finishedAt) ?? seconds(job.status?.startTime, job.status?.completionTime);
  if (duration !== undefined) ctx.metrics.runDuration?.(Math.max(0, duration));
}

// What the Job controller does for one Job, given the Job and the pods it owns: the pure core of
// syncJob. It counts finished pods (tracked by the `batch.kubernetes.io/job-tracking` finalizer,
// so counters never go back when a pod is deleted), judges failures by podFailurePolicy and
// backoffLimit, checks activeDeadlineSeconds, and says which pods to create, delete and release.
// Simulated: NonIndexed Jobs, parallelism/completions, suspend, podReplacementPolicy. Not:
// Indexed Jobs, backoffLimitPerIndex, successPolicy, managedBy, restartPolicy OnFailure restarts.
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IJobCondition } from 'kubernetes-models/batch/v1/JobCondition';
import type { IJobStatus } from 'kubernetes-models/batch/v1/JobStatus';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { rfc3339 } from './clock.js';
import { judgePodFailure } from './pod-failure-policy.js';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';

export interface JobEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface JobSyncPlan {
  /** The status to write (equal to the current one when nothing changed). */
  status: IJobStatus;
  /** How many pods to create from the template. */
  createPods: number;
  /** Active pods to delete (deadline, failure, suspension). */
  deletePods: string[];
  /** Pods whose tracking finalizer can be removed, after `status` is written. */
  releasePods: string[];
  /** Sync again after this many ms (active deadline or retry backoff), if set. */
  requeueAfterMs?: number;
  events: JobEvent[];
}

export interface JobSyncOptions {
  /** Delay before recreating a failed pod; doubles per failure, capped at 6 minutes (real: 10 s). */
  podRetryBackoffMs: number;
}

const MAX_RETRY_BACKOFF_MS = 6 * 60_000;

type Failure = { reason: string; message: string };

export function isJobFinished(job: IJob): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

function isTerminal(pod: IPod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function isTracked(pod: IPod): boolean {
  return (pod.metadata?.finalizers ?? []).includes(JOB_TRACKING_FINALIZER);
}

function isReady(pod: IPod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** As the controller's isPodFailed: without a podFailurePolicy a deleted, unfinished pod counts as failed. */
function isPodFailed(pod: IPod, job: IJob): boolean {
  if (pod.status?.phase === 'Failed') return true;
  if (job.spec?.podFailurePolicy !== undefined) return false;
  return pod.metadata?.deletionTimestamp !== undefined && pod.status?.phase !== 'Succeeded';
}

function finishTime(pod: IPod): number {
  const times = (pod.status?.containerStatuses ?? []).map((s) => Date.parse(s.state?.terminated?.finishedAt ?? ''));
  const valid = times.filter((t) => !Number.isNaN(t));
  return valid.length > 0 ? Math.max(...valid) : Date.parse(pod.metadata?.deletionTimestamp ?? pod.metadata?.creationTimestamp ?? '');
}

function setCondition(status: IJobStatus, type: string, value: 'True' | 'False', reason: string, message: string, now: number): void {
  const conditions = (status.conditions ??= []);
  const existing = conditions.find((c) => c.type === type);
  if (existing && existing.status === value && existing.reason === reason) return;
  const condition: IJobCondition = { type, status: value, reason, message, lastProbeTime: rfc3339(now), lastTransitionTime: rfc3339(now) };
  if (existing) Object.assign(existing, condition);
  else conditions.push(condition);
}

function condition(status: IJobStatus, type: string): IJobCondition | undefined {
  return (status.conditions ?? []).find((c) => c.type === type && c.status === 'True');
}

/** Plans one sync of `job` at time `now` given every pod it owns. */
export function planJobSync(job: IJob, pods: IPod[], now: number, options: JobSyncOptions): JobSyncPlan {
  const status: IJobStatus = structuredClone(job.status ?? {});
  const plan: JobSyncPlan = { status, createPods: 0, deletePods: [], releasePods: [], events: [] };
  if (isJobFinished(job)) {
    plan.releasePods = pods.filter(isTracked).map((p) => p.metadata!.name!);
    return plan;
  }
  const spec = job.spec!;
  let failure: Failure | undefined;
  const target = condition(status, 'FailureTarget');
  if (target) failure = { reason: target.reason ?? '', message: target.message ?? '' };

  // Account for pods that finished since the last sync.
  status.succeeded ??= 0;
  status.failed ??= 0;
  let newFailures = false;
  for (const pod of pods.filter(isTracked)) {
    if (pod.status?.phase === 'Succeeded') status.succeeded += 1;
    else if (isPodFailed(pod, job)) {
      const verdict = pod.status?.phase === 'Failed' ? judgePodFailure(spec.podFailurePolicy, pod) : { action: 'Count' as const };
      if (verdict.action === 'Ignore') {
        plan.releasePods.push(pod.metadata!.name!);
        continue;
      }
      status.failed += 1;
      newFailures = true;
      if (verdict.action === 'FailJob' && failure === undefined) failure = { reason: 'PodFailurePolicy', message: verdict.message ?? '' };
    } else continue;
    plan.releasePods.push(pod.metadata!.name!);
  }
  const active = pods.filter((p) => !isTerminal(p) && p.metadata?.deletionTimestamp === undefined);
  const terminating = pods.filter((p) => !isTerminal(p) && p.metadata?.deletionTimestamp !== undefined);

  if (spec.suspend === true) {
    plan.deletePods = active.map((p) => p.metadata!.name!);
    setCondition(status, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now);
    delete status.startTime;
    return finish(plan, status, 0, 0, terminating.length);
  }
  if (condition(status, 'Suspended')) setCondition(status, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
  status.startTime ??= rfc3339(now);

  if (failure === undefined && newFailures && status.failed > (spec.backoffLimit ?? 6)) {
    failure = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
  }
  const deadlineMs = spec.activeDeadlineSeconds === undefined ? undefined : Date.parse(status.startTime) + spec.activeDeadlineSeconds * 1000;
  if (failure === undefined && deadlineMs !== undefined && now >= deadlineMs) {
    failure = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
  }

  if (failure !== undefined) {
    if (!condition(status, 'FailureTarget')) {
      setCondition(status, 'FailureTarget', 'True', failure.reason, failure.message, now);
      plan.events.push({ type: 'Warning', reason: failure.reason, message: failure.message });
    }
    plan.deletePods = active.map((p) => p.metadata!.name!);
    const stillRunning = terminating.length + active.length;
    if (stillRunning === 0) setCondition(status, 'Failed', 'True', failure.reason, failure.message, now);
    return finish(plan, status, 0, 0, stillRunning);
  }

  const completions = spec.completions ?? 1;
  if (status.succeeded >= completions) {
    const message = 'Reached expected number of succeeded pods';
    setCondition(status, 'SuccessCriteriaMet', 'True', 'CompletionsReached', message, now);
    plan.deletePods = active.map((p) => p.metadata!.name!);
    const stillRunning = terminating.length + active.length;
    if (stillRunning === 0) {
      setCondition(status, 'Complete', 'True', 'CompletionsReached', message, now);
      status.completionTime = rfc3339(now);
      plan.events.push({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
    }
    return finish(plan, status, 0, 0, stillRunning);
  }

  const blocking = spec.podReplacementPolicy === 'Failed' ? terminating.length : 0;
  const wanted = Math.min(spec.parallelism ?? 1, completions - status.succeeded) - active.length - blocking;
  if (wanted > 0) {
    const retryAt = retryDueAt(pods.filter((p) => isPodFailed(p, job)), status.failed, options);
    if (retryAt <= now) plan.createPods = wanted;
    else plan.requeueAfterMs = retryAt - now;
  }
  if (deadlineMs !== undefined) plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? Infinity, deadlineMs - now);
  return finish(plan, status, active.length + plan.createPods, active.filter(isReady).length, terminating.length);
}

/** When the next pod may be created after failures: last failure + base × 2^(failures − 1). */
function retryDueAt(failedPods: IPod[], failed: number, options: JobSyncOptions): number {
  if (failed === 0 || options.podRetryBackoffMs <= 0 || failedPods.length === 0) return -Infinity;
  const last = Math.max(...failedPods.map(finishTime));
  return last + Math.min(MAX_RETRY_BACKOFF_MS, options.podRetryBackoffMs * 2 ** (failed - 1));
}

function finish(plan: JobSyncPlan, status: IJobStatus, active: number, ready: number, terminating: number): JobSyncPlan {
  status.active = active;
  status.ready = ready;
  status.terminating = terminating;
  status.uncountedTerminatedPods ??= {};
  // active, succeeded and failed are `omitempty` int32s in Go's JobStatus: a 0 is not in the object
  // (ready and terminating are pointers, so their 0 is).
  for (const key of ['active', 'succeeded', 'failed'] as const) if (status[key] === 0) delete status[key];
  return plan;
}

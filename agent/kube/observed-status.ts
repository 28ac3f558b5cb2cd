// What a run's Job and pods say about the run, as a vantage6 run status (spec A7, B6, C1). Pure:
// the observed objects in, the status out. Job conditions decide first (they are final), then the
// run's newest pod. Unlike upstream's mapper, the real phase `Succeeded` is `completed`, a failed
// Job is final at once (backoffLimit is 0), and waiting/terminated reasons are told apart.
import type { V1ContainerStatus, V1Job, V1JobCondition, V1Pod } from '@kubernetes/client-node';
import { RunStatus, hasRunFinished } from '../protocol/run-status.js';
import { GATE_CONTAINER } from '../isolation/gate.js';
import { ALGORITHM_CONTAINER } from './names.js';

export interface ObservedRunStatus {
  status: RunStatus;
  /** vantage6's `has_task_finished`: the agent collects the result (or the failure) and deletes the Job. */
  finished: boolean;
  /** A sentence for the run log and the agent log. */
  reason: string;
}

/** Waiting reasons of a container whose image cannot be pulled (vantage6: `non-existing Docker image`). */
const PULL_ERRORS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'];
/** Waiting reasons of a container that cannot be created or started. */
const START_ERRORS = ['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff', 'ContainerCannotRun'];
/** Waiting reasons on the way to running. */
const STARTING = ['ContainerCreating', 'PodInitializing'];

function observed(status: RunStatus, reason: string): ObservedRunStatus {
  return { status, finished: hasRunFinished(status), reason };
}

function condition(job: V1Job, ...types: string[]): V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => types.includes(c.type) && c.status === 'True');
}

/** `: <message>` when Kubernetes gave one. */
function detail(message: string | undefined): string {
  return message === undefined || message === '' ? '' : `: ${message}`;
}

/** The run's pod to judge: the newest (a replaced pod's successor), ties broken by name. */
function newestPod(pods: readonly V1Pod[]): V1Pod | undefined {
  const created = (pod: V1Pod) => (pod.metadata?.creationTimestamp === undefined ? 0 : new Date(pod.metadata.creationTimestamp).getTime());
  return [...pods].sort((a, b) => created(b) - created(a) || (b.metadata?.name ?? '').localeCompare(a.metadata?.name ?? ''))[0];
}

function algorithmContainer(pod: V1Pod): V1ContainerStatus | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  return statuses.find((s) => s.name === ALGORITHM_CONTAINER) ?? statuses[0];
}

function memoryLimit(pod: V1Pod): string {
  const container = pod.spec?.containers.find((c) => c.name === ALGORITHM_CONTAINER) ?? pod.spec?.containers[0];
  const limit = container?.resources?.limits?.memory;
  return limit === undefined ? 'no memory limit was set' : `its memory limit is ${limit}`;
}

/** A container that has terminated: exit 0 is `completed`, anything else `crashed`. */
function fromTerminated(pod: V1Pod, container: V1ContainerStatus): ObservedRunStatus | undefined {
  const terminated = container.state?.terminated;
  if (terminated === undefined) return undefined;
  if (terminated.reason === 'OOMKilled') {
    return observed(RunStatus.Crashed, `Algorithm container was killed for running out of memory (OOMKilled); ${memoryLimit(pod)}`);
  }
  if (terminated.exitCode === 0) return observed(RunStatus.Completed, 'Algorithm container exited with code 0');
  const why = terminated.reason === undefined ? '' : ` (${terminated.reason})`;
  return observed(RunStatus.Crashed, `Algorithm container exited with code ${terminated.exitCode}${why}`);
}

function fromWaiting(container: V1ContainerStatus | undefined, image: string): ObservedRunStatus {
  const waiting = container?.state?.waiting;
  const reason = waiting?.reason;
  if (reason === undefined || STARTING.includes(reason)) return observed(RunStatus.Initializing, 'Algorithm container is being created');
  if (PULL_ERRORS.includes(reason)) {
    return observed(RunStatus.NoDockerImage, `Image ${image} cannot be pulled (${reason})${detail(waiting?.message)}`);
  }
  if (START_ERRORS.includes(reason)) {
    return observed(RunStatus.Crashed, `Algorithm container cannot be started (${reason})${detail(waiting?.message)}`);
  }
  return observed(RunStatus.UnknownError, `Algorithm container is waiting for an unrecognised reason (${reason})${detail(waiting?.message)}`);
}

/**
 * What the isolation gate (agent/isolation/gate.ts) says when it kept the algorithm from starting:
 * it found the pod not isolated (its sentence, the termination message, says so), or its own
 * image cannot be pulled or started. Undefined while it runs, once it has passed, or without one.
 */
function fromGate(pod: V1Pod): ObservedRunStatus | undefined {
  const gate = pod.status?.initContainerStatuses?.find((s) => s.name === GATE_CONTAINER);
  const terminated = gate?.state?.terminated;
  if (terminated !== undefined && terminated.exitCode !== 0) {
    const said = terminated.message?.trim().split('\n').at(-1);
    return observed(RunStatus.StartFailed, `Algorithm container was not started: ${said || `the isolation gate exited with code ${terminated.exitCode}${terminated.reason === undefined ? '' : ` (${terminated.reason})`}`}`);
  }
  const waiting = gate?.state?.waiting;
  if (waiting?.reason !== undefined && [...PULL_ERRORS, ...START_ERRORS].includes(waiting.reason)) {
    return observed(RunStatus.StartFailed, `Algorithm container was not started: the isolation gate (image ${gate!.image}, isolation.image) cannot start (${waiting.reason})${detail(waiting.message)}`);
  }
  return undefined;
}

function fromPod(pod: V1Pod): ObservedRunStatus {
  const gate = fromGate(pod);
  if (gate !== undefined) return gate;
  const container = algorithmContainer(pod);
  const terminated = container === undefined ? undefined : fromTerminated(pod, container);
  const phase = pod.status?.phase;
  switch (phase) {
    case 'Pending': {
      const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
      if (unschedulable !== undefined) {
        return observed(RunStatus.Initializing, `Pod cannot be scheduled yet (${unschedulable.reason ?? 'Unschedulable'})${detail(unschedulable.message)}`);
      }
      return terminated ?? fromWaiting(container, container?.image ?? pod.spec?.containers[0]?.image ?? 'of the algorithm');
    }
    case 'Running':
      return terminated ?? observed(RunStatus.Active, 'Algorithm container is running');
    case 'Succeeded':
      return observed(RunStatus.Completed, 'Algorithm container exited with code 0');
    case 'Failed':
      if (pod.status?.reason === 'Evicted') return observed(RunStatus.Failed, `Pod was evicted${detail(pod.status.message)}`);
      return (
        terminated ??
        observed(RunStatus.Failed, `Pod failed without its container terminating${pod.status?.reason === undefined ? '' : ` (${pod.status.reason})`}${detail(pod.status?.message)}`)
      );
    case 'Unknown':
      return observed(RunStatus.UnknownError, 'Pod state is unknown: its node cannot be reached');
    default:
      return observed(RunStatus.UnknownError, `Pod is in an unrecognised phase (${phase ?? 'none'})`);
  }
}

/**
 * The run status a Job and its pods show.
 * - no Job: `unknown error` (finished) — call this only for a run whose Job was created; a Job that
 *   is gone before the run finished is vantage6's "container vanished".
 * - Job `Complete`/`SuccessCriteriaMet` → `completed`; `Failed`/`FailureTarget` with reason
 *   `DeadlineExceeded` → `failed`; any other failure → what the pod shows when the pod has
 *   terminated (OOM, exit code, eviction), else `crashed`.
 * - the isolation gate failed (not isolated in time, or its image cannot start) → `start failed`.
 * - otherwise the newest pod: Pending → `initializing` / `non-existing Docker image` / `crashed` /
 *   `unknown error` by waiting reason; Running → `active`; Succeeded → `completed`; Failed →
 *   `crashed` (terminated non-zero, OOMKilled) or `failed` (evicted, no terminated container);
 *   Unknown or anything else → `unknown error`. No pod yet → `initializing`.
 */
export function observedRunStatus(job: V1Job | undefined, pods: readonly V1Pod[]): ObservedRunStatus {
  if (job === undefined) return observed(RunStatus.UnknownError, 'Job no longer exists: it was deleted before the run finished');
  const pod = newestPod(pods);

  if (condition(job, 'Complete', 'SuccessCriteriaMet') !== undefined) return observed(RunStatus.Completed, 'Job completed');
  const failed = condition(job, 'Failed', 'FailureTarget');
  if (failed !== undefined) {
    if (failed.reason === 'DeadlineExceeded') {
      const deadline = job.spec?.activeDeadlineSeconds;
      return observed(RunStatus.Failed, `Job exceeded its active deadline${deadline === undefined ? '' : ` of ${deadline} s`}`);
    }
    const fromItsPod = pod === undefined ? undefined : fromPod(pod);
    if (fromItsPod !== undefined && fromItsPod.finished && fromItsPod.status !== RunStatus.Completed) return fromItsPod;
    return observed(RunStatus.Crashed, `Job failed (${failed.reason ?? 'no reason given'})${detail(failed.message)}`);
  }

  if (pod === undefined) return observed(RunStatus.Initializing, 'Job created; its pod does not exist yet');
  return fromPod(pod);
}

// Deterministic names and labels for the Kubernetes objects of one run. Everything derives from the
// node id and the run id, so a restarted agent finds its objects again and two agents sharing a
// namespace never touch each other's.
import { InvalidIdError } from './errors.js';

/** Labels on every Job, pod template and Secret the agent creates. */
export const LabelKey = {
  ManagedBy: 'app.kubernetes.io/managed-by',
  Component: 'app.kubernetes.io/component',
  NodeId: 'vantage6.ai/node-id',
  RunId: 'vantage6.ai/run-id',
  TaskId: 'vantage6.ai/task-id',
  JobId: 'vantage6.ai/job-id',
  ParentTaskId: 'vantage6.ai/parent-task-id',
  /** Pods only: what NetworkPolicies select algorithm pods by. */
  Role: 'vantage6.ai/role',
  /** Pods of vantage6 5 runs only: the run's action (the chart's NetworkPolicies let data_extraction and preprocessing pods reach nothing). */
  Action: 'vantage6.ai/action',
} as const;

/** Annotations on the Job and its pod template: context for a human running `kubectl describe`. */
export const AnnotationKey = {
  Image: 'vantage6.ai/image',
  TaskId: 'vantage6.ai/task-id',
  ParentTaskId: 'vantage6.ai/parent-task-id',
  CollaborationId: 'vantage6.ai/collaboration-id',
  NodeName: 'vantage6.ai/node-name',
  /** vantage6 5: the session whose dataframes the run reads or writes. */
  SessionId: 'vantage6.ai/session-id',
  /** vantage6 5: the dataframe an extraction or preprocessing run produces. */
  Dataframe: 'vantage6.ai/dataframe',
} as const;

export const MANAGED_BY = 'v6-node';
export const COMPONENT_ALGORITHM = 'algorithm';
export const ROLE_ALGORITHM = 'algorithm';
/** The algorithm container's name in a run's pod; its logs are the run's log. */
export const ALGORITHM_CONTAINER = 'algorithm';

/** The ids that identify one run, as the server gives them. */
export interface RunIds {
  id: number;
  taskId: number;
  jobId: number;
  parentId: number | null;
}

function id(what: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidIdError(what);
  return String(value);
}

/**
 * The name shared by a run's Job and Secret: `v6-node-<nodeId>-run-<runId>`. At most 45 characters
 * for any two safe integers, so it is an RFC 1123 label and leaves room for the pod name suffix.
 */
export function runObjectName(nodeId: number, runId: number): string {
  return `v6-node-${id('node id', nodeId)}-run-${id('run id', runId)}`;
}

/** The run's folder on the task volume: `task-{run_id:09d}`, as vantage6 names it. */
export function runFolderName(runId: number): string {
  return `task-${id('run id', runId).padStart(9, '0')}`;
}

/** The parent of the jobs' temporary folders on the task volume. */
export const TMP_ROOT_FOLDER = 'tmp';

/** The job's temporary folder on the task volume, shared by the runs of one job (vantage6 4.x). */
export function jobTmpFolderName(jobId: number): string {
  return `${TMP_ROOT_FOLDER}/job-${id('job id', jobId)}`;
}

/** The parent of the session folders on the task volume (vantage6 5). */
export const SESSIONS_ROOT_FOLDER = 'sessions';

/** A session's folder on the task volume: `sessions/session{session_id:09d}`, as vantage6 5 names it. */
export function sessionFolderName(sessionId: number): string {
  return `${SESSIONS_ROOT_FOLDER}/session${id('session id', sessionId).padStart(9, '0')}`;
}

/** The session id a folder below SESSIONS_ROOT_FOLDER is named for (`session000000042` → 42), or undefined. */
export function sessionIdOfFolder(name: string): number | undefined {
  const match = /^session(\d{9})$/.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** The agent's own folder on the task volume (tokens, collected logs): no pod mounts it. */
export const AGENT_PRIVATE_FOLDER = '.v6-node';

/** The labels that pick out every object this node's agent manages. */
export function nodeLabels(nodeId: number): Record<string, string> {
  return {
    [LabelKey.ManagedBy]: MANAGED_BY,
    [LabelKey.Component]: COMPONENT_ALGORITHM,
    [LabelKey.NodeId]: id('node id', nodeId),
  };
}

/** Labels of a run's Job and Secret; the parent task label only for subtasks. */
export function runLabels(nodeId: number, run: RunIds): Record<string, string> {
  return {
    ...nodeLabels(nodeId),
    [LabelKey.RunId]: id('run id', run.id),
    [LabelKey.TaskId]: id('task id', run.taskId),
    [LabelKey.JobId]: id('job id', run.jobId),
    ...(run.parentId === null ? {} : { [LabelKey.ParentTaskId]: id('parent task id', run.parentId) }),
  };
}

/** Labels of a run's pods: the run labels plus the role (and a 5 run's action) NetworkPolicies select. */
export function algorithmPodLabels(nodeId: number, run: RunIds, action?: string): Record<string, string> {
  return { ...runLabels(nodeId, run), [LabelKey.Role]: ROLE_ALGORITHM, ...(action === undefined ? {} : { [LabelKey.Action]: action }) };
}

function selector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** Label selector for everything of this node (`kubectl get jobs -l …`, list/watch, informers). */
export function nodeSelector(nodeId: number): string {
  return selector(nodeLabels(nodeId));
}

/** Label selector for the objects of one run, e.g. the pods of its Job. */
export function runSelector(nodeId: number, runId: number): string {
  return selector({ ...nodeLabels(nodeId), [LabelKey.RunId]: id('run id', runId) });
}

/**
 * The run id an object belongs to, read from its labels; undefined when the object is not a run's
 * (informer events carry only the object, and reconcile wants the run id).
 */
export function runIdOf(labels: Record<string, string> | undefined): number | undefined {
  const value = labels?.[LabelKey.RunId];
  if (value === undefined || !/^(0|[1-9][0-9]*)$/.test(value)) return undefined;
  const runId = Number(value);
  return Number.isSafeInteger(runId) ? runId : undefined;
}

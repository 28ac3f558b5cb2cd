/**
 * vantage6 run statuses as sent in `PATCH run` and `algorithm_status_change`: 4.x's
 * (`TaskStatus` in vantage6-common/vantage6/common/task_status.py, spec A7) and the two a 5 node
 * reports besides (`RunStatus` in vantage6-common 5.0.3 `enum.py`; the 5.x contract §3.3).
 */
export const RunStatus = {
  Pending: 'pending',
  Initializing: 'initializing',
  Active: 'active',
  Completed: 'completed',
  Failed: 'failed',
  StartFailed: 'start failed',
  NoDockerImage: 'non-existing Docker image',
  Crashed: 'crashed',
  Killed: 'killed by user',
  NotAllowed: 'not allowed',
  UnknownError: 'unknown error',
  /** 5 only: a dataframe the run asks for is not in the node's session folder. */
  DataframeNotFound: 'dataframe not found',
  /** 5 only: an extraction or preprocessing run wrote something that is not a parquet table. */
  UnexpectedOutput: 'unexpected output',
} as const;

export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

const STATUSES: ReadonlySet<string> = new Set(Object.values(RunStatus));
const NOT_FAILED: ReadonlySet<string> = new Set([RunStatus.Initializing, RunStatus.Active, RunStatus.Completed, RunStatus.Pending]);

export function isRunStatus(value: string): value is RunStatus {
  return STATUSES.has(value);
}

/** `has_task_failed`: every status except pending, initializing, active and completed (unknown strings included). */
export function hasRunFailed(status: string): boolean {
  return !NOT_FAILED.has(status);
}

/** `has_task_finished`: failed or completed. */
export function hasRunFinished(status: string): boolean {
  return status === RunStatus.Completed || hasRunFailed(status);
}

/**
 * What a vantage6 5 run is, read from the run the hub sends (the 5.x contract §3.1): its action,
 * the function it calls, its session and, for extraction and preprocessing, the dataframe it
 * produces. Pure; a run that lacks one of them cannot run and fails with a log that says which.
 */
import { RunNotRunnableError } from '../errors.js';
import { isAction, producesDataframe, type Action } from './actions.js';
import { RunStatus } from './run-status.js';
import { producedDataframe } from './session-databases.js';
import type { ServerRun } from '../server/types.js';

export interface Run5 {
  readonly action: Action;
  readonly method: string;
  readonly sessionId: number;
  /** The dataframe an extraction or preprocessing run produces. */
  readonly dataframe?: { readonly id: number; readonly name: string };
}

export function run5Of(run: ServerRun): Run5 {
  const { action } = run;
  if (!isAction(action)) throw new RunNotRunnableError(RunStatus.Failed, `Unrecognized action ${String(action)}`);
  const method = run.task.method;
  if (typeof method !== 'string' || method === '') {
    throw new RunNotRunnableError(RunStatus.Failed, 'The task names no method: a vantage6 5 task says which function of the algorithm to run.');
  }
  const sessionId = run.task.session?.id;
  if (typeof sessionId !== 'number' || !Number.isSafeInteger(sessionId) || sessionId < 0) {
    throw new RunNotRunnableError(RunStatus.Failed, 'The task belongs to no session: vantage6 5 runs read and write a session\'s dataframes.');
  }
  return { action, method, sessionId, ...(producesDataframe(action) ? { dataframe: producedDataframe(action, run.task.dataframe) } : {}) };
}

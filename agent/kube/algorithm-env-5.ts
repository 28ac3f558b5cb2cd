// The environment of a vantage6 5 algorithm container (the 5.x contract §5.2), built as
// upstream's Kubernetes node builds it — same variables, same order, every value encoded — with
// two differences: the admin's values (a source database's `env`, `algorithm_env`) and the
// container token live in the run's Secret, never in the Job; and `algorithm_env` cannot replace a
// variable of the contract (upstream skips such keys too). Pure: run and config in, env out.
import type { Config } from '../config.js';
import { Action, getsContainerToken, type Action as ActionName } from '../protocol/actions.js';
import type { EnvValue } from '../protocol/env.js';
import { extractionSource, requestedDataframes, userRequestedDataframes } from '../protocol/session-databases.js';
import type { ServerTaskDatabase } from '../server/types.js';
import { containerEnv, databaseUriInPod, type AlgorithmEnv, type EnvEntry } from './algorithm-env.js';
import { TaskPaths5 } from './paths.js';

export interface AlgorithmEnv5Input {
  action: ActionName;
  /** `task.method`: the function the wrapper calls. */
  method: string;
  ids: { taskId: number; nodeId: number; organizationId: number; collaborationId: number };
  /** `task.databases`: a source database for an extraction, the session's dataframes otherwise. */
  databases: readonly ServerTaskDatabase[];
  config: Pick<Config, 'databases' | 'algorithm_env' | 'proxy'>;
  /** `HOST`: the proxy by address (algorithm pods have no DNS). */
  proxyUrl: string;
  /** The container token; given only to a central compute run. */
  token?: string;
}

function envEntries5(input: AlgorithmEnv5Input): Map<string, EnvEntry> {
  const env = new Map<string, EnvEntry>();
  const set = (name: string, value: EnvValue, configured = false): void => void env.set(name, { value, configured });
  set('INPUT_FILE', TaskPaths5.input);
  set('OUTPUT_FILE', TaskPaths5.output);
  set('SESSION_FOLDER', TaskPaths5.session);
  set('SESSION_FILE', TaskPaths5.sessionFile);
  set('HOST', input.proxyUrl);
  set('PORT', input.config.proxy.port);
  set('API_PATH', '');
  set('ALGORITHM_METHOD', input.method);
  set('FUNCTION_ACTION', input.action);
  set('TASK_ID', input.ids.taskId);
  set('NODE_ID', input.ids.nodeId);
  set('ORGANIZATION_ID', input.ids.organizationId);
  set('COLLABORATION_ID', input.ids.collaborationId);
  if (input.action === Action.DataExtraction) {
    const label = extractionSource(input.databases, input.config.databases.map((db) => db.label));
    const db = input.config.databases.find((candidate) => candidate.label === label)!;
    set('DATABASE_URI', databaseUriInPod(db));
    set('DATABASE_TYPE', db.type);
    for (const [key, value] of Object.entries(db.env ?? {})) set(`DB_PARAM_${key.toUpperCase()}`, value, true);
  } else {
    set('USER_REQUESTED_DATAFRAMES', userRequestedDataframes(requestedDataframes(input.databases)));
  }
  if (getsContainerToken(input.action) && input.token !== undefined) set('CONTAINER_TOKEN', input.token, true);
  for (const [name, value] of Object.entries(input.config.algorithm_env)) {
    if (!env.has(name) && !env.has(name.toUpperCase())) set(name, value, true);
  }
  return env;
}

/**
 * The container's `env` and the run Secret's data for a vantage6 5 run. Throws
 * `RunNotRunnableError` (`failed`) when the task's databases do not fit its action, and
 * `AlgorithmEnvError` when a configured name cannot be set.
 */
export function algorithmEnv5(input: AlgorithmEnv5Input, secretName: string): AlgorithmEnv {
  return containerEnv(envEntries5(input), secretName);
}

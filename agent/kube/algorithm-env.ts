// The environment of an algorithm container: the vantage6 4.x contract (spec A8), built the way
// the Docker node builds it (same variables, same order, `algorithm_env` merged last, every value
// base32-encoded), with paths for our pod layout. Pure: run and config in, env list out.
import type { V1EnvVar } from '@kubernetes/client-node';
import type { Config, DatabaseConfig } from '../config.js';
import { encodeEnvValue, type EnvValue } from '../protocol/env.js';
import { isAlgorithmEnvName } from './env-names.js';
import { AlgorithmEnvError } from './errors.js';
import { TEMPORARY_FOLDER, databasePathInPod, runFilePaths } from './paths.js';

/** A database as the task requests it: `task.databases[]` (parameters is a compact JSON string). */
export interface TaskDatabase {
  label: string;
  parameters?: string | null;
}

export interface AlgorithmEnvInput {
  runId: number;
  /** The databases the task requests, in task order. */
  databases: readonly TaskDatabase[];
  config: Pick<Config, 'databases' | 'algorithm_env' | 'proxy'>;
}

/** The optional parameters of a requested database that become `{LABEL}_{KEY}` variables. */
const PARAMETER_KEYS = ['query', 'sheet_name', 'preprocessing'] as const;

function parametersOf(db: TaskDatabase): Record<string, unknown> {
  if (db.parameters === undefined || db.parameters === null || db.parameters === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(db.parameters);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AlgorithmEnvError(
      'V6_KUBE_DATABASE_PARAMETERS_INVALID',
      `The parameters of requested database '${db.label}' are not a JSON object`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** `preprocessing` is passed as JSON text (vantage6 `json.dumps`); `query` and `sheet_name` as is. */
function parameterValue(key: (typeof PARAMETER_KEYS)[number], value: unknown): EnvValue {
  const scalar = value === null || ['string', 'number', 'boolean'].includes(typeof value);
  return key !== 'preprocessing' && scalar ? (value as EnvValue) : JSON.stringify(value);
}

/** The URI an algorithm gets: inside the pod for a database on a claim, the service URI otherwise. */
export function databaseUriInPod(db: DatabaseConfig): string {
  return db.volume === undefined ? db.uri : databasePathInPod(db.label, db.uri);
}

/**
 * The variables, unencoded, in the Docker node's order. Exported for logging what a run gets
 * (`algorithm_env` and database values may hold credentials: log names only).
 */
export function algorithmEnvValues(input: AlgorithmEnvInput): Map<string, EnvValue> {
  const files = runFilePaths(input.runId);
  const env = new Map<string, EnvValue>([
    ['INPUT_FILE', files.input],
    ['OUTPUT_FILE', files.output],
    ['TOKEN_FILE', files.token],
    ['TEMPORARY_FOLDER', TEMPORARY_FOLDER],
    ['HOST', input.config.proxy.url],
    ['PORT', input.config.proxy.port],
    ['API_PATH', ''],
  ]);
  for (const db of input.databases) {
    const parameters = parametersOf(db);
    for (const key of PARAMETER_KEYS) {
      if (key in parameters) env.set(`${db.label.toUpperCase()}_${key.toUpperCase()}`, parameterValue(key, parameters[key]));
    }
  }
  env.set('USER_REQUESTED_DATABASE_LABELS', input.databases.map((db) => db.label).join(','));
  for (const db of input.config.databases) {
    const label = db.label.toUpperCase();
    env.set(`${label}_DATABASE_URI`, databaseUriInPod(db));
    env.set(`${label}_DATABASE_TYPE`, db.type);
    for (const [key, value] of Object.entries(db.env ?? {})) env.set(`${label}_DB_PARAM_${key.toUpperCase()}`, value);
  }
  env.set('DB_LABELS', input.config.databases.map((db) => db.label).join(','));
  for (const [name, value] of Object.entries(input.config.algorithm_env)) env.set(name, value);
  return env;
}

/**
 * The container's `env`: every vantage6 variable with its value encoded by `encodeEnvValue`.
 * A requested database that is not configured only lacks its `_DATABASE_URI` (as in vantage6:
 * the algorithm reports it). Throws `AlgorithmEnvError` (the run is `failed`) when a name is not
 * a valid environment variable name or is `PKG_NAME`, or when a database's parameters are not a
 * JSON object; the message names the variable or database.
 */
export function algorithmEnv(input: AlgorithmEnvInput): V1EnvVar[] {
  const env = algorithmEnvValues(input);
  for (const name of env.keys()) {
    if (!isAlgorithmEnvName(name)) {
      throw new AlgorithmEnvError(
        'V6_KUBE_ENV_NAME_INVALID',
        `Environment variable '${name}' cannot be set: names are ASCII letters, digits and underscores, not starting with a digit, and PKG_NAME is the image's own`,
      );
    }
  }
  return [...env].map(([name, value]) => ({ name, value: encodeEnvValue(value) }));
}

// The environment of an algorithm container: the vantage6 4.x contract (spec A8), built the way
// the Docker node builds it (same variables, same order, `algorithm_env` merged last, every value
// base32-encoded), with paths for our pod layout. What the admin configures (`databases[].env`,
// `algorithm_env`: credentials, often) is not written into the Job: it goes into the run's Secret
// and the container references it. Pure: run and config in, env list and Secret data out.
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
  /** `HOST`: the proxy by address, as the agent resolved `proxy.url` (algorithm pods have no DNS). */
  proxyUrl: string;
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

/** A variable's value and whether it comes from the admin's configuration (kept in the run's Secret). */
export interface EnvEntry {
  readonly value: EnvValue;
  readonly configured: boolean;
}

function envEntries(input: AlgorithmEnvInput): Map<string, EnvEntry> {
  const files = runFilePaths(input.runId);
  const env = new Map<string, EnvEntry>();
  const set = (name: string, value: EnvValue, configured = false): void => void env.set(name, { value, configured });
  set('INPUT_FILE', files.input);
  set('OUTPUT_FILE', files.output);
  set('TOKEN_FILE', files.token);
  set('TEMPORARY_FOLDER', TEMPORARY_FOLDER);
  set('HOST', input.proxyUrl);
  set('PORT', input.config.proxy.port);
  set('API_PATH', '');
  for (const db of input.databases) {
    const parameters = parametersOf(db);
    for (const key of PARAMETER_KEYS) {
      if (key in parameters) set(`${db.label.toUpperCase()}_${key.toUpperCase()}`, parameterValue(key, parameters[key]));
    }
  }
  set('USER_REQUESTED_DATABASE_LABELS', input.databases.map((db) => db.label).join(','));
  for (const db of input.config.databases) {
    const label = db.label.toUpperCase();
    set(`${label}_DATABASE_URI`, databaseUriInPod(db));
    set(`${label}_DATABASE_TYPE`, db.type);
    for (const [key, value] of Object.entries(db.env ?? {})) set(`${label}_DB_PARAM_${key.toUpperCase()}`, value, true);
  }
  set('DB_LABELS', input.config.databases.map((db) => db.label).join(','));
  for (const [name, value] of Object.entries(input.config.algorithm_env)) set(name, value, true);
  return env;
}

/**
 * The variables, unencoded, in the Docker node's order. Exported for logging what a run gets
 * (`algorithm_env` and database values may hold credentials: log names only).
 */
export function algorithmEnvValues(input: AlgorithmEnvInput): Map<string, EnvValue> {
  return new Map([...envEntries(input)].map(([name, entry]) => [name, entry.value]));
}

/** The key in the run's Secret of a configured variable. */
export function envSecretKey(name: string): string {
  return `env.${name}`;
}

export interface AlgorithmEnv {
  /** The container's `env`. */
  readonly env: V1EnvVar[];
  /** What the run's Secret must hold for it (`data`: base64 of the encoded values). */
  readonly secretData: Record<string, string>;
}

/**
 * The container's `env`: every vantage6 variable with its value encoded by `encodeEnvValue`;
 * configured ones as references into the run's Secret `secretName`, their values in `secretData`.
 * A requested database that is not configured only lacks its `_DATABASE_URI` (as in vantage6:
 * the algorithm reports it). Throws `AlgorithmEnvError` (the run is `failed`) when a name is not
 * a valid environment variable name or is `PKG_NAME`, or when a database's parameters are not a
 * JSON object; the message names the variable or database.
 */
export function algorithmEnv(input: AlgorithmEnvInput, secretName: string): AlgorithmEnv {
  return containerEnv(envEntries(input), secretName);
}

/**
 * `entries` as a container's `env` and the run Secret's data (either contract): plain values
 * inline, configured ones by reference into the Secret `secretName`; every value encoded. Throws
 * `AlgorithmEnvError` for a name that cannot be set.
 */
export function containerEnv(entries: ReadonlyMap<string, EnvEntry>, secretName: string): AlgorithmEnv {
  for (const name of entries.keys()) {
    if (!isAlgorithmEnvName(name)) {
      throw new AlgorithmEnvError(
        'V6_KUBE_ENV_NAME_INVALID',
        `Environment variable '${name}' cannot be set: names are ASCII letters, digits and underscores, not starting with a digit, and PKG_NAME is the image's own`,
      );
    }
  }
  const env: V1EnvVar[] = [];
  const secretData: Record<string, string> = {};
  for (const [name, { value, configured }] of entries) {
    if (!configured) {
      env.push({ name, value: encodeEnvValue(value) });
      continue;
    }
    secretData[envSecretKey(name)] = Buffer.from(encodeEnvValue(value), 'utf8').toString('base64');
    env.push({ name, valueFrom: { secretKeyRef: { name: secretName, key: envSecretKey(name) } } });
  }
  return { env, secretData };
}

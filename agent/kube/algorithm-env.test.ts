import test from 'ava';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../config.js';
import { decodeEnvValue, encodeEnvValue } from '../protocol/env.js';
import { algorithmEnv, algorithmEnvValues, databaseUriInPod, type AlgorithmEnvInput } from './algorithm-env.js';
import { AlgorithmEnvError, type KubeSpecErrorCode } from './errors.js';

function config(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    stringify({
      api_key: '2f1b6a4e-9d0c-4c1e-8f7a-6b5d4c3b2a10',
      server_url: 'https://v6.example.org',
      kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' } },
      proxy: { url: 'http://v6-node.vantage6.svc.cluster.local' },
      isolation: { probe: false },
      databases: [
        { label: 'default', type: 'csv', uri: 'cohort/patients.csv', volume: { claim_name: 'data' } },
        { label: 'omop', type: 'sql', uri: 'postgresql://omop:5432/omop', env: { user: 'reader', port: 5432 } },
      ],
      ...extra,
    }),
    {},
  ).config;
}

const SECRET = 'v6-node-1-run-1';
/** The proxy as the agent resolved proxy.url: the node Service's ClusterIP. */
const PROXY = 'http://10.43.0.12';

/** The env as name → decoded value, the way an algorithm reads it (references resolved from the Secret). */
function decoded(input: AlgorithmEnvInput): Record<string, string> {
  const { env, secretData } = algorithmEnv(input, SECRET);
  const valueOf = (v: (typeof env)[number]): string => {
    const ref = v.valueFrom?.secretKeyRef;
    if (ref === undefined) return v.value!;
    if (ref.name !== SECRET) throw new Error(`${v.name} refers to another Secret: ${ref.name}`);
    return Buffer.from(secretData[ref.key]!, 'base64').toString('utf8');
  };
  return Object.fromEntries(env.map((v) => [v.name, decodeEnvValue(valueOf(v))]));
}

test('the full contract, in the Docker node order, every value encoded', (t) => {
  const input: AlgorithmEnvInput = {
    runId: 1,
    databases: [{ label: 'default', parameters: '{"query":"SELECT 1","sheet_name":"Sheet1","preprocessing":[{"function":"select_rows","parameters":{"query":"age>50"}}]}' }],
    config: config(),
    proxyUrl: PROXY,
  };
  const { env } = algorithmEnv(input, SECRET);
  t.deepEqual(
    env.map((v) => v.name),
    [
      'INPUT_FILE',
      'OUTPUT_FILE',
      'TOKEN_FILE',
      'TEMPORARY_FOLDER',
      'HOST',
      'PORT',
      'API_PATH',
      'DEFAULT_QUERY',
      'DEFAULT_SHEET_NAME',
      'DEFAULT_PREPROCESSING',
      'USER_REQUESTED_DATABASE_LABELS',
      'DEFAULT_DATABASE_URI',
      'DEFAULT_DATABASE_TYPE',
      'OMOP_DATABASE_URI',
      'OMOP_DATABASE_TYPE',
      'OMOP_DB_PARAM_USER',
      'OMOP_DB_PARAM_PORT',
      'DB_LABELS',
    ],
  );
  // spec C2 vector: the input path of run 1.
  t.is(env[0]!.value, 'F5WW45BPMRQXIYJPORQXG2ZNGAYDAMBQGAYDAMJPNFXHA5LU');
  t.is(env.find((v) => v.name === 'API_PATH')!.value, '');
  t.deepEqual(decoded(input), {
    INPUT_FILE: '/mnt/data/task-000000001/input',
    OUTPUT_FILE: '/mnt/data/task-000000001/output',
    TOKEN_FILE: '/mnt/token/token',
    TEMPORARY_FOLDER: '/mnt/tmp',
    HOST: PROXY,
    PORT: '7654',
    API_PATH: '',
    DEFAULT_QUERY: 'SELECT 1',
    DEFAULT_SHEET_NAME: 'Sheet1',
    DEFAULT_PREPROCESSING: '[{"function":"select_rows","parameters":{"query":"age>50"}}]',
    USER_REQUESTED_DATABASE_LABELS: 'default',
    DEFAULT_DATABASE_URI: '/mnt/databases/default/cohort/patients.csv',
    DEFAULT_DATABASE_TYPE: 'csv',
    OMOP_DATABASE_URI: 'postgresql://omop:5432/omop',
    OMOP_DATABASE_TYPE: 'sql',
    OMOP_DB_PARAM_USER: 'reader',
    OMOP_DB_PARAM_PORT: '5432',
    DB_LABELS: 'default,omop',
  });
});

const requested: Array<[string, AlgorithmEnvInput['databases'], Record<string, string>]> = [
  ['no databases requested', [], { USER_REQUESTED_DATABASE_LABELS: '' }],
  ['parameters absent, null or empty', [{ label: 'default' }, { label: 'omop', parameters: null }, { label: 'x', parameters: '' }], { USER_REQUESTED_DATABASE_LABELS: 'default,omop,x' }],
  ['an excel sheet by index', [{ label: 'default', parameters: '{"sheet_name":0}' }], { DEFAULT_SHEET_NAME: '0', USER_REQUESTED_DATABASE_LABELS: 'default' }],
  ['other parameter keys are not variables', [{ label: 'omop', parameters: '{"arguments":{"a":1}}' }], { USER_REQUESTED_DATABASE_LABELS: 'omop' }],
  ['a requested label that is not configured', [{ label: 'other', parameters: '{"query":"q"}' }], { OTHER_QUERY: 'q', USER_REQUESTED_DATABASE_LABELS: 'other' }],
];
for (const [title, databases, expected] of requested) {
  test(`requested databases: ${title}`, (t) => {
    const env = decoded({ runId: 5, databases, config: config(), proxyUrl: PROXY });
    const requestVars = Object.fromEntries(Object.entries(env).filter(([name]) => /_(QUERY|SHEET_NAME|PREPROCESSING)$|^USER_REQUESTED/.test(name)));
    t.deepEqual(requestVars, expected);
  });
}

test('algorithm_env is merged last: it overrides in place and adds at the end', (t) => {
  const input = { runId: 2, databases: [], config: config({ algorithm_env: { PORT: 9999, SITE: 'amsterdam', DEBUG: true } }), proxyUrl: PROXY };
  const names = [...algorithmEnvValues(input).keys()];
  t.is(names.indexOf('PORT'), 5);
  t.deepEqual(names.slice(-3), ['DB_LABELS', 'SITE', 'DEBUG']);
  t.like(decoded(input), { PORT: '9999', SITE: 'amsterdam', DEBUG: 'True' });
});

test('a database on a claim is given its path in the pod; a service URI as is', (t) => {
  const [onClaim, service] = config().databases;
  t.is(databaseUriInPod(onClaim!), '/mnt/databases/default/cohort/patients.csv');
  t.is(databaseUriInPod(service!), 'postgresql://omop:5432/omop');
});

const failures: Array<[string, Partial<AlgorithmEnvInput>, KubeSpecErrorCode, RegExp]> = [
  [
    'algorithm_env name with a dash',
    { config: { ...config(), algorithm_env: { 'MY-VAR': 'x' } } },
    'V6_KUBE_ENV_NAME_INVALID',
    /^Environment variable 'MY-VAR' cannot be set/,
  ],
  ['algorithm_env PKG_NAME', { config: { ...config(), algorithm_env: { PKG_NAME: 'x' } } }, 'V6_KUBE_ENV_NAME_INVALID', /'PKG_NAME'/],
  ['a requested label that makes a bad name', { databases: [{ label: 'my-db', parameters: '{"query":"q"}' }] }, 'V6_KUBE_ENV_NAME_INVALID', /'MY-DB_QUERY'/],
  ['a requested label a Pod cannot carry (non-ASCII)', { databases: [{ label: 'ärzte', parameters: '{"query":"q"}' }] }, 'V6_KUBE_ENV_NAME_INVALID', /'ÄRZTE_QUERY'/],
  ['parameters not JSON', { databases: [{ label: 'default', parameters: '{query' }] }, 'V6_KUBE_DATABASE_PARAMETERS_INVALID', /'default'/],
  ['parameters a JSON list', { databases: [{ label: 'default', parameters: '[1]' }] }, 'V6_KUBE_DATABASE_PARAMETERS_INVALID', /'default'/],
];
for (const [title, override, code, message] of failures) {
  test(`fails the run: ${title}`, (t) => {
    const error = t.throws(() => algorithmEnv({ runId: 1, databases: [], config: config(), proxyUrl: PROXY, ...override }, SECRET), { instanceOf: AlgorithmEnvError });
    t.is(error.code, code);
    t.is(error.runStatus, 'failed');
    t.regex(error.message, message);
  });
}

test('configured values (databases[].env, algorithm_env) are references into the run\'s Secret, never literal in the spec', (t) => {
  const input = { runId: 1, databases: [], config: config({ algorithm_env: { API_TOKEN: 's3cr3t-token', PORT: 9999 } }), proxyUrl: PROXY };
  const { env, secretData } = algorithmEnv(input, SECRET);
  const byName = Object.fromEntries(env.map((v) => [v.name, v]));
  for (const name of ['OMOP_DB_PARAM_USER', 'OMOP_DB_PARAM_PORT', 'API_TOKEN', 'PORT']) {
    t.is(byName[name]?.value, undefined, name);
    t.deepEqual(byName[name]?.valueFrom, { secretKeyRef: { name: SECRET, key: `env.${name}` } }, name);
  }
  t.truthy(byName['INPUT_FILE']?.value, 'the contract\'s own variables stay literal');
  t.deepEqual(Object.keys(secretData).sort(), ['env.API_TOKEN', 'env.OMOP_DB_PARAM_PORT', 'env.OMOP_DB_PARAM_USER', 'env.PORT']);
  t.false(JSON.stringify(env).includes(encodeEnvValue('s3cr3t-token')));
  t.like(decoded(input), { API_TOKEN: 's3cr3t-token', OMOP_DB_PARAM_USER: 'reader', PORT: '9999' });
});

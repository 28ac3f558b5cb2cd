import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { ConfigError, apiBaseUrl, loadConfig, parseConfig, protocolOf, redactedConfig, serverUrlOf } from './config.js';

const EXAMPLE = fileURLToPath(new URL('./v6-node.example.yaml', import.meta.url));
const API_KEY = '2f1b6a4e-9d0c-4c1e-8f7a-6b5d4c3b2a10';
const PROBE_IMAGE = 'v6-node:0.1.0';

/** The smallest valid config, with `extra` merged over its top level. */
function minimal(extra: Record<string, unknown> = {}): string {
  return stringify({
    api_key: API_KEY,
    server_url: 'https://v6.example.org',
    kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' } },
    proxy: { url: 'http://v6-node.vantage6.svc.cluster.local' },
    ...extra,
    // The probe is on by default, and then needs its image.
    isolation: { image: PROBE_IMAGE, ...(extra.isolation as object | undefined) },
  });
}

function problems(yamlText: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  const error = (() => {
    try {
      parseConfig(yamlText, env);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(error instanceof ConfigError)) throw new Error('expected a ConfigError');
  return error.problems;
}

test('the example file loads, with no warnings', async (t) => {
  const { config, warnings } = await loadConfig(EXAMPLE, {});
  t.deepEqual(warnings, []);
  t.is(config.kubernetes.namespace, 'vantage6-tasks');
  t.is(config.kubernetes.task_volume.claim_name, 'v6-node-tasks');
  t.deepEqual(config.databases.map((db) => db.label), ['default', 'omop']);
  t.is(apiBaseUrl(config), 'https://v6.example.org:443/api');
});

test('defaults fill every optional key', (t) => {
  const { config, warnings } = parseConfig(minimal(), {});
  t.deepEqual(warnings, []);
  t.like(config, {
    api_path: '/api',
    databases: [],
    encryption: { enabled: false },
    policies: { allow_basics_algorithm: true, require_algorithm_pull: true, allow_either_whitelist_or_store: false },
    algorithm_env: {},
    share_algorithm_logs: true,
    share_config: true,
    kubernetes: {
      namespace: 'vantage6-tasks',
      task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany', mount_path: '/var/lib/v6-node/tasks' },
      image_pull_secrets: [],
      run: {
        resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '4Gi' } },
        active_deadline_seconds: 86400,
        ttl_seconds_after_finished: 3600,
        run_as_user: 10000,
        run_as_group: 10000,
        fs_group: 10000,
        tmp_size_limit: '1Gi',
      },
      image_overrides: [],
    },
    redis: { url: 'redis://127.0.0.1:6379' },
    queue: { concurrency: 4, max_active_jobs: 20, prefix: 'v6-node' },
    proxy: { url: 'http://v6-node.vantage6.svc.cluster.local', port: 7654, listen_port: 7654, max_body_bytes: 10 * 1024 * 1024, max_concurrent_decryptions: 1, max_bytes_in_flight: 128 * 1024 * 1024 },
    metrics: { port: 9464, proxy_port: 9465 },
    results: { max_output_bytes: 50 * 1024 * 1024 },
    logging: { level: 'info' },
  });
  t.is(config.port, undefined);
  t.is(apiBaseUrl(config), 'https://v6.example.org/api');
});

test('partial sections keep the defaults of their other fields', (t) => {
  const { config } = parseConfig(
    minimal({
      kubernetes: {
        task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' },
        run: { resources: { limits: { memory: '8Gi' } } },
      },
      proxy: { url: 'http://proxy', port: 8080 },
    }),
    {},
  );
  t.deepEqual(config.kubernetes.run.resources, { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '8Gi' } });
  t.is(config.proxy.listen_port, 8080, 'listen_port follows port');
});

test('vantage6 values are normalised: one allowed algorithm, log level names, trailing slashes', (t) => {
  const { config } = parseConfig(
    minimal({
      server_url: 'https://v6.example.org/',
      api_path: '/api/',
      policies: { allowed_algorithms: 'harbor2.vantage6.ai/demo/average' },
      logging: { level: 'WARNING' },
    }),
    {},
  );
  t.deepEqual(config.policies.allowed_algorithms, ['harbor2.vantage6.ai/demo/average']);
  t.is(config.logging.level, 'warn');
  t.is(parseConfig(minimal({ logging: { level: 'NOTSET' } }), {}).config.logging.level, 'debug', 'NOTSET, which v6 node new offers, logs everything');
  t.is(apiBaseUrl(config), 'https://v6.example.org/api');
});

const wrongFields: Array<[string, Record<string, unknown>, string]> = [
  ['api key not a UUID', { api_key: 'not-a-uuid' }, 'api_key: expected a UUID'],
  ['api key missing', { api_key: undefined }, 'api_key: required'],
  ['server_url not http', { server_url: 'ftp://v6.example.org' }, 'server_url: expected an http or https URL'],
  ['port out of range', { port: 70000 }, 'port: expected a port number (1-65535)'],
  ['port in two places', { server_url: 'https://v6.example.org:443', port: 443 }, 'port: server_url already has a port'],
  ['api_path without slash', { api_path: 'api' }, 'api_path: expected a path starting with /'],
  ['unknown database type', { databases: [{ label: 'a', type: 'xlsx', uri: 'x' }] }, 'databases[0].type: expected one of csv, parquet, sql, sparql, excel, other'],
  ['database label with a dash', { databases: [{ label: 'my-db', type: 'csv', uri: 'x' }] }, 'databases[0].label: must be usable in environment variable names'],
  [
    'duplicate label (upper-cased)',
    { databases: [{ label: 'db', type: 'csv', uri: 'x' }, { label: 'DB', type: 'csv', uri: 'y' }] },
    'databases[1].label: is used by another database',
  ],
  ['database env key', { databases: [{ label: 'db', type: 'sql', uri: 'x', env: { 'pass word': 'x' } }] }, 'databases[0].env.pass word: not usable'],
  [
    'absolute uri on a claim',
    { databases: [{ label: 'db', type: 'csv', uri: '/data/x.csv', volume: { claim_name: 'data' } }] },
    'databases[0].uri: with a volume, expected a relative path',
  ],
  [
    'escaping sub_path',
    { databases: [{ label: 'db', type: 'csv', uri: 'x.csv', volume: { claim_name: 'data', sub_path: 'a/../../b' } }] },
    'databases[0].volume.sub_path: expected a relative path that stays inside the volume',
  ],
  [
    'database claim is the task claim',
    { databases: [{ label: 'db', type: 'csv', uri: 'x.csv', volume: { claim_name: 'tasks' } }] },
    'databases[0].volume.claim_name: must not be the task volume claim',
  ],
  ['encryption without key', { encryption: { enabled: true } }, 'encryption.private_key: required when encryption.enabled is true'],
  ['policy not boolean', { policies: { require_algorithm_pull: 'yes' } }, 'policies.require_algorithm_pull: expected true or false'],
  ['unknown policy', { policies: { allowed_images: ['x'] } }, 'policies.allowed_images: unknown key'],
  ['algorithm_env PKG_NAME', { algorithm_env: { PKG_NAME: 'x' } }, 'algorithm_env.PKG_NAME: not a name the node may set'],
  ['algorithm_env non-ASCII identifier', { algorithm_env: { ÄRZTE: 'x' } }, 'algorithm_env.ÄRZTE: not a name the node may set'],
  ['algorithm_env bad name', { algorithm_env: { 'MY-VAR': 'x' } }, 'algorithm_env.MY-VAR: not a name the node may set'],
  ['algorithm_env value a list', { algorithm_env: { A: [1] } }, 'algorithm_env.A: expected a string, number or boolean'],
  ['share_config not boolean', { share_config: 1 }, 'share_config: expected true or false'],
  [
    'deadline negative',
    { kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' }, run: { active_deadline_seconds: -5 } } },
    'kubernetes.run.active_deadline_seconds: expected a positive integer',
  ],
  [
    'deadline not an integer',
    { kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' }, run: { active_deadline_seconds: 1.5 } } },
    'kubernetes.run.active_deadline_seconds: expected a positive integer',
  ],
  ['namespace not a DNS label', { kubernetes: { namespace: 'Tasks', task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' } } }, 'kubernetes.namespace: expected an RFC 1123 label'],
  ['task volume missing', { kubernetes: {} }, 'kubernetes.task_volume: required'],
  ['access mode', { kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadOnlyMany' } } }, 'kubernetes.task_volume.access_mode: expected ReadWriteOnce or ReadWriteMany'],
  ['mount path relative', { kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany', mount_path: 'tasks' } } }, 'kubernetes.task_volume.mount_path: expected an absolute path'],
  ['RWO without node name', { kubernetes: { task_volume: { claim_name: 'tasks' } } }, 'kubernetes.node_name: required when kubernetes.task_volume.access_mode is ReadWriteOnce'],
  [
    'quantity',
    { kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' }, run: { resources: { limits: { memory: '4 GB' } } } } },
    'kubernetes.run.resources.limits.memory: expected a Kubernetes quantity',
  ],
  [
    'override without image',
    { kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' }, image_overrides: [{ active_deadline_seconds: 5 }] } },
    'kubernetes.image_overrides[0].image: required',
  ],
  ['isolation.forbidden_url scheme', { isolation: { forbidden_url: 'ftp://x.example' } }, 'isolation.forbidden_url: expected an http://, https:// or tcp://host:port URL'],
  ['isolation.forbidden_url tcp without port', { isolation: { forbidden_url: 'tcp://10.0.0.1' } }, 'isolation.forbidden_url: expected an http://, https:// or tcp://host:port URL'],
  ['isolation.allow_unenforced not boolean', { isolation: { allow_unenforced: 'yes' } }, 'isolation.allow_unenforced: expected true or false'],
  ['isolation.timeout_seconds zero', { isolation: { timeout_seconds: 0 } }, 'isolation.timeout_seconds: expected a positive integer'],
  ['unknown isolation key', { isolation: { enforce: true } }, 'isolation.enforce: unknown key'],
  ['unknown kubernetes key', { kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' }, namepsace: 'x' } }, 'kubernetes.namepsace: unknown key'],
  ['redis url scheme', { redis: { url: 'http://redis:6379' } }, 'redis.url: expected a redis:// or rediss:// URL'],
  ['queue concurrency zero', { queue: { concurrency: 0 } }, 'queue.concurrency: expected a positive integer'],
  ['proxy missing', { proxy: undefined }, 'proxy: required'],
  ['proxy without url', { proxy: { port: 1 } }, 'proxy.url: required'],
  ['task volume a string', { kubernetes: { task_volume: 'tasks' } }, 'kubernetes.task_volume: expected a mapping with at least claim_name'],
  ['proxy url with port', { proxy: { url: 'http://proxy:7654' } }, 'proxy.url: expected scheme and host only'],
  ['proxy url with path', { proxy: { url: 'http://proxy/api' } }, 'proxy.url: expected scheme and host only'],
  ['metrics on the proxy port', { metrics: { port: 7654 } }, 'metrics.port: must differ from proxy.listen_port'],
  ['proxy metrics on the agent metrics port', { metrics: { port: 9000, proxy_port: 9000 } }, 'metrics.proxy_port: must differ'],
  ['results limit', { results: { max_output_bytes: 'big' } }, 'results.max_output_bytes: expected a positive integer'],
  ['log level', { logging: { level: 'loud' } }, 'logging.level: expected one of trace, debug, info, warn, error, fatal'],
  ['unknown top-level key', { databse: [] }, 'databse: unknown key'],
  ['a typo of a vantage6 5 key', { task_namepsace: 'vantage6-tasks' }, 'task_namepsace: unknown key'],
  ['production not boolean', { production: 'yes' }, 'production: expected true or false'],
  [
    'production and isolation.allow_unenforced disagree',
    { production: false, isolation: { allow_unenforced: false } },
    'production: says the opposite of isolation.allow_unenforced',
  ],
  ['no server at all', { server_url: undefined }, 'server_url: required: the vantage6 4.x server (or hq_url for a vantage6 5 hub)'],
  ['a 4.x server and a 5 hub', { hq_url: 'https://hq.example.org' }, 'hq_url: give server_url (a vantage6 4.x server) or hq_url'],
  ['keycloak for a 4.x server', { keycloak: { url: 'https://kc.example.org' } }, 'keycloak: only for a vantage6 5 hub'],
  ['a 5 hub without keycloak', { server_url: undefined, hq_url: 'https://hq.example.org', name: 'alpha' }, "keycloak.url: required for a vantage6 5 hub"],
  ['a 5 hub without the node name', { server_url: undefined, hq_url: 'https://hq.example.org', keycloak: { url: 'https://kc.example.org' } }, 'name: required for a vantage6 5 hub'],
  ['a 5 hub URL with a port and port', { server_url: undefined, hq_url: 'https://hq.example.org:7601', port: 7601, name: 'a', keycloak: { url: 'https://kc.example.org' } }, 'port: hq_url already has a port'],
];

for (const [title, extra, expected] of wrongFields) {
  test(`names the wrong field: ${title}`, (t) => {
    const found = problems(minimal(extra));
    t.true(
      found.some((p) => p.startsWith(expected)),
      `expected a problem starting with "${expected}", got:\n${found.join('\n')}`,
    );
  });
}

test('a 5 hub: hq_url, the node name and Keycloak (from the config or from the environment as upstream names it); api_path defaults to /hq and the key is a Keycloak client secret', (t) => {
  const hub = { server_url: undefined, hq_url: 'https://hq.example.org', port: 7601, api_key: 'Xq3vGm9T0pWcNfRk2hLsYdBe7uJa5ZoE' };
  const fromFile = parseConfig(minimal({ ...hub, name: 'alpha', keycloak: { url: 'https://kc.example.org' } }), {}).config;
  t.like(fromFile, { hq_url: 'https://hq.example.org', port: 7601, api_path: '/hq', name: 'alpha', keycloak: { url: 'https://kc.example.org', realm: 'vantage6' } });
  t.is(protocolOf(fromFile), 5);
  t.is(serverUrlOf(fromFile), 'https://hq.example.org');
  t.deepEqual(parseConfig(stringify(fromFile), {}).config, fromFile, 'the parsed config, written out, parses to itself');
  const fromEnv = parseConfig(minimal(hub), { V6_NODE_NAME: 'beta', KEYCLOAK_URL: 'http://kc:7680', KEYCLOAK_REALM: 'v6' }).config;
  t.like(fromEnv, { name: 'beta', keycloak: { url: 'http://kc:7680', realm: 'v6' } });
  const server = parseConfig(minimal(), {}).config;
  t.like(server, { api_path: '/api' });
  t.is(protocolOf(server), 4);
});

// A vantage6 5.0.3 node as upstream's tools write it (test/fixtures/vantage6-5/README.md says how each was made).
const V5_CONFIG = fileURLToPath(new URL('../test/fixtures/vantage6-5/node-config.yml', import.meta.url));
const V5_VALUES = fileURLToPath(new URL('../test/fixtures/vantage6-5/node-values.yaml', import.meta.url));
const V5_SECRET = 'Xq3vGm9T0pWcNfRk2hLsYdBe7uJa5ZoE';
/** What upstream's node chart gives the node besides config.yml: its Secret and the Deployment's env. */
const V5_ENV = { V6_API_KEY: V5_SECRET, V6_NODE_NAME: 'alpha-hospital-cancer-study-node', KEYCLOAK_URL: 'https://auth.example.org', KEYCLOAK_REALM: 'vantage6' };
/** The agent's own sections, which no upstream file has: appended to it, nothing in it changed. */
const OWN_SECTIONS = stringify({
  kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' } },
  proxy: { url: 'http://v6-node.vantage6.svc.cluster.local' },
  isolation: { image: PROBE_IMAGE },
});

test('a vantage6 5.0.3 node config.yml is accepted as is: its keys mean what they mean upstream, with the chart\'s variables', async (t) => {
  const upstream = await readFile(V5_CONFIG, 'utf8');
  const { config, warnings } = parseConfig(`${upstream}\n${OWN_SECTIONS}`, V5_ENV);
  t.like(config, {
    hq_url: 'https://hq.example.org',
    port: 443,
    api_path: '/hq',
    api_key: V5_SECRET,
    name: 'alpha-hospital-cancer-study-node',
    keycloak: { url: 'https://auth.example.org', realm: 'vantage6' },
    share_config: true,
    share_algorithm_logs: true,
    encryption: { enabled: false },
    policies: {
      allowed_algorithm_stores: ['https://store.uluru.vantage6.ai'],
      allowed_organizations: [2, 'alpha-hospital'],
      allow_either_whitelist_or_store: false,
      require_algorithm_pull: true,
    },
    algorithm_env: { PRIVACY_THRESHOLD: 10 },
    logging: { level: 'info' },
    isolation: { allow_unenforced: false },
    kubernetes: { namespace: 'vantage6-tasks' },
    proxy: { port: 7654 },
  });
  t.is(config.encryption.private_key, undefined, 'private_key: null is no key file');
  t.is(protocolOf(config), 5);
  t.is(apiBaseUrl(config), 'https://hq.example.org:443/hq');

  const ignored = warnings.flatMap((w) => {
    const match = /^ignored: (\S+) has no meaning to v6-node because (.+)$/.exec(w);
    return match === null ? [] : [[match[1]!, match[2]!]];
  });
  t.deepEqual(
    ignored.map(([key]) => key),
    ['node_proxy_port', 'task_dir', 'task_namespace', 'prometheus', 'private_docker_registries', 'logging.backup_count', 'logging.datefmt', 'logging.file', 'logging.format', 'logging.max_size', 'logging.use_console', 'logging.loggers'],
  );
  // Each reason names what takes the key's place.
  const reasons = new Map(ignored.map(([key, reason]) => [key, reason]));
  t.regex(reasons.get('node_proxy_port')!, /proxy\.listen_port.*proxy\.port/);
  t.regex(reasons.get('task_dir')!, /kubernetes\.task_volume/);
  t.regex(reasons.get('task_namespace')!, /kubernetes\.namespace/);
  t.regex(reasons.get('prometheus')!, /metrics\.port/);
  t.regex(reasons.get('private_docker_registries')!, /kubernetes\.image_pull_secrets/);
  t.deepEqual(
    warnings.filter((w) => !w.startsWith('ignored: ')).map((w) => w.slice(0, w.indexOf(':'))),
    ['policies.allowed_organizations[0]'],
    'and the numeric organization id the template\'s own example writes',
  );

  const typo = upstream.replace('task_namespace:', 'task_namepsace:');
  t.deepEqual(problems(`${typo}\n${OWN_SECTIONS}`, V5_ENV), ['task_namepsace: unknown key']);
});

// What vantage6 5's node chart gives its node instead of databases in config.yml (vantage6-node
// 5.0.3 k8s/container_manager.py `_get_database_metadata`: its docstring's example, and a label with a -).
const V5_DATABASE_ENV = {
  DATABASE_LABELS: 'db1, omop-cdm',
  DATABASE_DB1_URI: 'postgresql://user:password@db1.data.svc:5432/db',
  DATABASE_DB1_TYPE: 'sql',
  DATABASE_DB1_SOME_OTHER_KEY: 'some_other_value',
  DATABASE_OMOP_CDM_URI: 'http://10.42.3.9:8080/patients.csv',
  DATABASE_OMOP_CDM_TYPE: 'csv',
};

test("vantage6 5's DATABASE_* variables are the node's databases, as upstream's node reads them", async (t) => {
  const upstream = await readFile(V5_CONFIG, 'utf8');
  const { config } = parseConfig(`${upstream}\n${OWN_SECTIONS}`, { ...V5_ENV, ...V5_DATABASE_ENV });
  t.deepEqual(config.databases, [
    { label: 'db1', type: 'sql', uri: 'postgresql://user:password@db1.data.svc:5432/db', env: { SOME_OTHER_KEY: 'some_other_value' } },
    { label: 'omop-cdm', type: 'csv', uri: 'http://10.42.3.9:8080/patients.csv' },
  ]);
  const logged = JSON.stringify(redactedConfig(config).databases);
  for (const secret of ['password', 'some_other_value']) t.false(logged.includes(secret), secret);

  // Labels db and db_x: DATABASE_DB_X_URI belongs to db_x, not to db as a parameter X_URI.
  const overlapping = parseConfig(minimal({ hq_url: 'https://hq.example.org', server_url: undefined, api_key: 's', name: 'n', keycloak: { url: 'https://kc.example.org' } }), {
    DATABASE_LABELS: 'db,db_x',
    DATABASE_DB_URI: 'postgresql://a/db',
    DATABASE_DB_TYPE: 'sql',
    DATABASE_DB_X_URI: 'postgresql://b/db',
    DATABASE_DB_X_TYPE: 'sql',
  }).config;
  t.deepEqual(overlapping.databases, [{ label: 'db', type: 'sql', uri: 'postgresql://a/db' }, { label: 'db_x', type: 'sql', uri: 'postgresql://b/db' }]);
  t.deepEqual(parseConfig(minimal({ databases: [] }), { DATABASE_LABELS: 'x', DATABASE_X_URI: 'postgresql://a/x', DATABASE_X_TYPE: 'sql' }).config.databases.map((db) => db.label), ['x'], 'the chart\'s databases: [] gives way');
});

test('a wrong DATABASE_* variable is named, not its value; a file database on the host is refused with what to do instead', async (t) => {
  const upstream = await readFile(V5_CONFIG, 'utf8');
  const found = problems(`${upstream}\n${OWN_SECTIONS}`, {
    ...V5_ENV,
    DATABASE_LABELS: 'default,omop,x',
    // upstream's fileBased database: a path on the host, which its node mounts by hostPath.
    DATABASE_DEFAULT_URI: '/data/patients.csv',
    DATABASE_DEFAULT_TYPE: 'csv',
    DATABASE_OMOP_URI: 'postgresql://reader:Secr3tPassw0rd@omop/omop',
    DATABASE_OMOP_TYPE: 'postgres',
    'DATABASE_X_BAD KEY': 'Secr3tPassw0rd',
  });
  t.deepEqual(
    found.map((p) => p.slice(0, p.indexOf(': '))),
    ['databases[0].uri (from DATABASE_DEFAULT_URI)', 'databases[1].type (from DATABASE_OMOP_TYPE)', 'databases[2].type (from DATABASE_X_TYPE)', 'databases[2].uri (from DATABASE_X_URI)', 'databases[2].env.BAD KEY (from DATABASE_X_BAD KEY)'],
  );
  t.regex(found[0]!, /host.*volume\.claim_name/);
  t.regex(found[3]!, /required$/);
  for (const problem of found) t.false(problem.includes('Secr3tPassw0rd'), problem);
  t.deepEqual(
    problems(minimal({ databases: [{ label: 'a', type: 'sql', uri: 'postgresql://a/a' }] }), { DATABASE_LABELS: 'b' }),
    ['databases: given in the file and by DATABASE_LABELS; give them in one place'],
  );
  t.deepEqual(problems(minimal({ databases: [{ label: 'omop-cdm', type: 'sql', uri: 'postgresql://a/a' }] })), [
    'databases[0].label: must be usable in environment variable names on a vantage6 4.x node (letters, digits and _, not starting with a digit)',
  ]);
});

test('vantage6 5\'s production is isolation.allow_unenforced negated; V6_ISOLATION_ALLOW_UNENFORCED still wins', (t) => {
  const allows = (extra: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => parseConfig(minimal(extra), env).config.isolation.allow_unenforced;
  t.false(allows({ production: true }));
  t.true(allows({ production: false }), 'production: false runs tasks though isolation is not confirmed, with a warning, as upstream');
  t.true(allows({ production: false, isolation: { allow_unenforced: 'true' } }), 'both, agreeing');
  t.false(allows({ production: false }, { V6_ISOLATION_ALLOW_UNENFORCED: 'false' }));
  const { warnings } = parseConfig(minimal({ production: false }), {});
  t.deepEqual(warnings, [], 'mapped, not ignored');
});

test("the Helm values upstream's CLI writes are refused with what to give instead, naming no value", async (t) => {
  const found = problems(await readFile(V5_VALUES, 'utf8'), V5_ENV);
  t.is(found.length, 1, found.join('\n'));
  const [problem] = found;
  t.true(problem!.startsWith("node: this looks like the values of vantage6's node Helm chart"), problem);
  for (const pointer of ['config.yml', 'hq_url', 'api_key', 'keycloak', 'A vantage6 5 node', 'hub.*']) t.true(problem!.includes(pointer), pointer);
  for (const secret of [V5_SECRET, 'Regi5tryPassw0rd']) t.false(problem!.includes(secret), secret);
});

test('every wrong field is named at once', (t) => {
  const found = problems(
    minimal({
      api_key: 'x',
      port: 0,
      databases: [{ label: 'a', type: 'nope', uri: '/abs', volume: { claim_name: 'c' } }, { label: 'A', type: 'csv', uri: 'x' }],
      queue: { concurrency: -1, bogus: true },
      logging: { level: 'loud' },
    }),
  );
  t.deepEqual(
    found.map((p) => p.slice(0, p.indexOf(':'))).sort(),
    ['api_key', 'databases[0].type', 'databases[0].uri', 'databases[1].label', 'logging.level', 'port', 'queue.bogus', 'queue.concurrency'],
  );
});

test('YAML syntax errors are reported by position, without the text', (t) => {
  const found = problems(`api_key: "${API_KEY}\nserver_url: [`);
  t.is(found.length > 0, true);
  t.regex(found[0]!, /^line \d+, column \d+: YAML [A-Z_]+$/);
  t.false(found.join('\n').includes(API_KEY));
});

test('a file that is not a mapping is refused', (t) => {
  t.deepEqual(problems('- a\n- b\n'), ['(top level): expected a mapping']);
});

test('environment variables override the file', (t) => {
  const otherKey = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
  const { config } = parseConfig(minimal({ encryption: { enabled: true, private_key: '/file.pem' } }), {
    V6_API_KEY: otherKey,
    V6_PRIVATE_KEY_FILE: '/secrets/key.pem',
    V6_KUBE_NODE_NAME: 'worker-7',
    V6_REDIS_URL: 'rediss://redis.example:6380',
    V6_REDIS_PASSWORD: 'hunter2',
  });
  t.is(config.api_key, otherKey);
  t.is(config.encryption.private_key, '/secrets/key.pem');
  t.is(config.kubernetes.node_name, 'worker-7');
  t.deepEqual(config.redis, { url: 'rediss://redis.example:6380', password: 'hunter2' });
});

test('logging.level: V6_LOG_LEVEL overrides the file, in pino\'s or vantage6\'s words; a wrong one names the variable', (t) => {
  t.is(parseConfig(minimal({ logging: { level: 'info' } }), { V6_LOG_LEVEL: 'debug' }).config.logging.level, 'debug');
  t.is(parseConfig(minimal(), { V6_LOG_LEVEL: 'WARNING' }).config.logging.level, 'warn');
  t.is(parseConfig(minimal({ logging: { level: 'error' } }), { V6_LOG_LEVEL: '' }).config.logging.level, 'error');
  const [problem] = problems(minimal(), { V6_LOG_LEVEL: 'loud' });
  t.regex(problem!, /^logging\.level \(from V6_LOG_LEVEL\): expected one of /);
});

test('isolation: probe on and unenforced isolation refused by default; V6_ISOLATION_ALLOW_UNENFORCED overrides the file', (t) => {
  const { config } = parseConfig(minimal(), {});
  t.deepEqual(config.isolation, { probe: true, allow_unenforced: false, gate: true, image: PROBE_IMAGE, image_pull_secrets: [], timeout_seconds: 10, proxy_wait_seconds: 60, interval_seconds: 3600, retry_seconds: 60 });
  t.true(parseConfig(minimal(), { V6_ISOLATION_ALLOW_UNENFORCED: 'true' }).config.isolation.allow_unenforced);
  t.false(parseConfig(minimal({ isolation: { allow_unenforced: true } }), { V6_ISOLATION_ALLOW_UNENFORCED: 'false' }).config.isolation.allow_unenforced);
  t.deepEqual(problems(minimal(), { V6_ISOLATION_ALLOW_UNENFORCED: 'yes' }), ['isolation.allow_unenforced (from V6_ISOLATION_ALLOW_UNENFORCED): expected true or false']);
});

test('the downward API node name satisfies ReadWriteOnce; empty variables are ignored', (t) => {
  const text = minimal({ kubernetes: { task_volume: { claim_name: 'tasks' } } });
  t.is(parseConfig(text, { V6_KUBE_NODE_NAME: 'worker-1' }).config.kubernetes.node_name, 'worker-1');
  t.true(problems(text, { V6_KUBE_NODE_NAME: '' }).some((p) => p.startsWith('kubernetes.node_name: required')));
});

test('a bad value from the environment names the variable, not the value', (t) => {
  const found = problems(minimal(), { V6_API_KEY: 'secret-but-not-a-uuid' });
  t.deepEqual(found, ['api_key (from V6_API_KEY): expected a UUID (the node API key)']);
});

test('vantage6 keys without meaning on Kubernetes are warnings, not errors', (t) => {
  const { warnings } = parseConfig(
    minimal({
      task_dir: '/tasks',
      docker_registries: [{ registry: 'r', username: 'u', password: 'p' }],
      vpn_subnet: '10.76.0.0/16',
      whitelist: { domains: ['x'] },
      prometheus: { enabled: true },
      node_extra_env: { A: 'b' },
      node_extra_mounts: ['/a:/b'],
      node_extra_hosts: { h: '1.2.3.4' },
      dev: {},
      debug: {},
      run_context_file: true,
      logging: { level: 'DEBUG', file: 'node.log', use_console: true, backup_count: 5, max_size: 1024, format: 'x', datefmt: 'x', loggers: [] },
    }),
    {},
  );
  const keys = warnings.map((w) => /^ignored: (\S+) has no meaning to v6-node because .+/.exec(w)?.[1]);
  t.deepEqual(keys, [
    'task_dir',
    'docker_registries',
    'vpn_subnet',
    'whitelist',
    'prometheus',
    'node_extra_env',
    'node_extra_mounts',
    'node_extra_hosts',
    'dev',
    'debug',
    'run_context_file',
    'logging.file',
    'logging.use_console',
    'logging.backup_count',
    'logging.max_size',
    'logging.format',
    'logging.datefmt',
    'logging.loggers',
  ]);
});

test('numeric ids in allow-lists are warned about (vantage6 compares text)', (t) => {
  const { warnings } = parseConfig(minimal({ policies: { allowed_users: ['4', 5], allowed_organizations: [2] } }), {});
  t.deepEqual(
    warnings.map((w) => w.slice(0, w.indexOf(':'))),
    ['policies.allowed_organizations[0]', 'policies.allowed_users[1]'],
  );
});

test('secrets never appear in errors or in the redacted config', (t) => {
  const secrets = ['S3cretPassw0rd', 'TopSecretDbPass', 'AlgoToken123', 'RedisPw999'];
  const text = minimal({
    databases: [
      { label: 'pg', type: 'sql', uri: `postgresql://reader:${secrets[0]}@db:5432/x`, env: { password: secrets[1] } },
      { label: 'pg', type: 'bogus', uri: 'x', env: { password: secrets[1] } },
    ],
    algorithm_env: { TOKEN: secrets[2], 'BAD NAME': secrets[2] },
    redis: { url: `redis://:${secrets[3]}@redis:6379`, password: 5 },
  });
  const message = (() => {
    try {
      parseConfig(text, {});
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  })();
  t.not(message, '');
  for (const secret of secrets) t.false(message.includes(secret), secret);

  const valid = parseConfig(
    minimal({
      databases: [{ label: 'pg', type: 'sql', uri: `postgresql://reader:${secrets[0]}@db:5432/x`, env: { password: secrets[1] } }],
      algorithm_env: { TOKEN: secrets[2] },
      redis: { url: `redis://:${secrets[3]}@redis:6379` },
    }),
    { V6_REDIS_PASSWORD: 'EnvRedisPw' },
  ).config;
  const logged = JSON.stringify(redactedConfig(valid));
  for (const secret of [...secrets, API_KEY, 'EnvRedisPw']) t.false(logged.includes(secret), secret);
  t.true(logged.includes('postgresql://reader:'), 'the rest of the URI stays readable');
  t.is(valid.redis.password, 'EnvRedisPw', 'redaction works on a copy');
});

test('loadConfig names the file in the error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'v6-node-config-'));
  const path = join(dir, 'node.yaml');
  await writeFile(path, 'api_key: 1\n');
  const error = await t.throwsAsync(loadConfig(path, {}), { instanceOf: ConfigError });
  t.true(error.message.startsWith(`Invalid configuration in ${path}:`));
  t.is(error.code, 'V6_CONFIG_INVALID');
});

test('the isolation probe without its image is refused, naming the keys to set; with the probe off no image is needed', (t) => {
  const withoutImage = stringify({ ...parse(minimal()), isolation: {} });
  t.deepEqual(problems(withoutImage), [
    "isolation.image: required while isolation.probe is true: an image with node on its PATH that the cluster can pull (the agent's own image, e.g. v6-node:0.1.0, as the Helm chart sets it); or set isolation.probe: false to run without verifying isolation",
  ]);
  t.false(parseConfig(stringify({ ...parse(minimal()), isolation: { probe: false } }), {}).config.isolation.probe);
});

// The node configuration: a vantage6 node YAML file (the keys an admin already has) plus the keys
// this agent adds for Kubernetes, Redis, the queue, the proxy and metrics. `parseConfig` is pure
// (text and environment in, typed config and warnings out); `loadConfig` only reads the file.
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { isValidEnvName } from './protocol/env.js';
import { isAlgorithmEnvName } from './kube/env-names.js';
import { DATABASE_LABELS, databaseEnvLabel, databasesFromEnv } from './database-env.js';

// ---------------------------------------------------------------------------------------------
// Errors and warnings

/** Every problem with a config file, one line per field: `<path>: <what is wrong>`. */
export class ConfigError extends Error {
  readonly code = 'V6_CONFIG_INVALID';
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * vantage6 node keys (4.x, and 5.x's config.yml) this agent accepts and ignores, with the reason
 * shown to the admin. Anything else unknown at the top level is an error.
 */
const IGNORED_VANTAGE6_KEYS: Readonly<Record<string, string>> = {
  task_dir: 'run folders live on the PersistentVolumeClaim kubernetes.task_volume',
  task_namespace: 'algorithm Jobs are created in kubernetes.namespace (with the Helm chart: the release namespace, where the task volume claim is)',
  node_proxy_port: 'the proxy listens on proxy.listen_port and algorithms get proxy.port as PORT (both default 7654)',
  docker_registries: 'image pull credentials are Kubernetes Secrets named in kubernetes.image_pull_secrets',
  private_docker_registries: 'image pull credentials are Kubernetes Secrets named in kubernetes.image_pull_secrets',
  vpn_subnet: "vantage6's VPN between algorithm containers is not supported; NetworkPolicies isolate algorithm pods",
  whitelist: 'algorithm egress is governed by the NetworkPolicies of the Helm chart, not by a Squid proxy',
  prometheus: 'the agent serves Prometheus metrics on metrics.port instead',
  node_extra_env: "the agent's own environment is set on its Deployment (Helm chart)",
  node_extra_mounts: "the agent's volumes are set on its Deployment; databases on claims use databases[].volume",
  node_extra_hosts: 'host aliases are set on the Deployment (Helm chart)',
  algorithm_device_requests: 'Docker device requests do not apply to pods; GPUs are not supported yet',
  dev: "these are development switches of vantage6's own node",
  debug: "these are debug switches of vantage6's own node; use logging.level: debug",
  run_context_file: 'v6-node does not write run_context.json',
};

/** vantage6's `logging` fields other than `level`: the agent logs JSON lines to stdout. */
const IGNORED_VANTAGE6_LOGGING_KEYS = ['file', 'use_console', 'backup_count', 'max_size', 'format', 'datefmt', 'loggers'];

function ignoredWarning(key: string, reason: string): string {
  return `ignored: ${key} has no meaning to v6-node because ${reason}`;
}

/**
 * The one problem reported for the Helm values `v6 node new` writes (a `node:` mapping for
 * vantage6's node chart) given as a config: the rest of such a file would only be unknown keys.
 */
const HELM_VALUES_PROBLEM =
  "node: this looks like the values of vantage6's node Helm chart (what `v6 node new` writes), not a node configuration. " +
  'Give the config.yml that chart renders for the node (its ConfigMap), or write the settings as this agent\'s keys: ' +
  'node.hq.url, .port, .path → hq_url, port, api_path; node.name → name; node.apiKey → api_key; node.keycloak → keycloak ' +
  '(README: "A vantage6 5 node"); installing with the v6-node Helm chart, give them as its values hub.* and apiKey';

// ---------------------------------------------------------------------------------------------
// Field schemas (messages never include the value: it may be a secret)

/** An error message that says `required` when the field is missing and `expected …` otherwise. */
function expected(what: string) {
  return (issue: { code?: string; input?: unknown }) => (issue.code === 'invalid_type' && issue.input === undefined ? 'required' : `expected ${what}`);
}

const positiveInt = z.int({ error: expected('a positive integer') }).positive({ error: expected('a positive integer') });
const portNumber = z
  .int({ error: expected('a port number (1-65535)') })
  .min(1, { error: expected('a port number (1-65535)') })
  .max(65535, { error: expected('a port number (1-65535)') });
const nonEmpty = z.string({ error: expected('a string') }).min(1, { error: 'must not be empty' });

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const namespaceName = z
  .string({ error: expected('a string') })
  .refine((v) => v.length <= 63 && dns1123Label.test(v), { error: expected('an RFC 1123 label (a Kubernetes namespace name)') });
const objectName = z
  .string({ error: expected('a string') })
  .refine((v) => v.length <= 253 && dns1123Subdomain.test(v), { error: expected('an RFC 1123 subdomain (a Kubernetes object name)') });

/** A Kubernetes quantity (`500m`, `2`, `1.5Gi`, `1e3`); numbers are accepted and kept as text. */
const quantityPattern = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/;
const quantity = z
  .union([z.string(), z.number()], { error: expected('a Kubernetes quantity such as 500m or 1Gi') })
  .transform(String)
  .refine((v) => quantityPattern.test(v), { error: expected('a Kubernetes quantity such as 500m or 1Gi') });

const absolutePath = z
  .string({ error: expected('a string') })
  .refine((v) => posix.isAbsolute(v) && !v.split('/').includes('..'), { error: 'expected an absolute path without ..' });

/** A path below a mount: relative, without `..`, so it cannot escape the mounted claim. */
const pathInVolume = z
  .string({ error: expected('a string') })
  .min(1, { error: 'must not be empty' })
  .refine((v) => !posix.isAbsolute(v) && !posix.normalize(v).split('/').includes('..'), {
    error: 'expected a relative path that stays inside the volume (no leading / and no ..)',
  });

function httpUrl(what: string) {
  return z
    .string({ error: expected(what) })
    .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), { error: expected(what) })
    .transform((v) => v.replace(/\/+$/, ''));
}

const envValue = z.union([z.string(), z.number(), z.boolean()], { error: expected('a string, number or boolean') });
const stringOrList = z
  .union([z.string(), z.array(z.string())], { error: expected('a string or a list of strings') })
  .transform((v) => (typeof v === 'string' ? [v] : v));
const idOrNameList = z.array(z.union([z.int(), z.string()]), { error: expected('a list of ids or names') });

// ---------------------------------------------------------------------------------------------
// vantage6 sections

const databaseTypes = ['csv', 'parquet', 'sql', 'sparql', 'excel', 'other'] as const;

const databaseSchema = z
  .strictObject({
    // 5 hubs allow a -, which their DATABASE_<L>_* variables write as _; a 4.x node's rule is in configSchema.
    label: nonEmpty.refine((label) => isValidEnvName(`DATABASE_${databaseEnvLabel(label)}_URI`), {
      error: 'must be letters, digits, _ and - only',
    }),
    type: z.enum(databaseTypes, { error: expected(`one of ${databaseTypes.join(', ')}`) }),
    uri: nonEmpty,
    env: z
      .record(z.string(), envValue, { error: expected('a mapping of names to values') })
      .superRefine((values, ctx) => {
        for (const key of Object.keys(values)) {
          if (!isValidEnvName(`DB_PARAM_${key.toUpperCase()}`)) {
            ctx.addIssue({ code: 'custom', path: [key], message: 'not usable in an environment variable name' });
          }
        }
      })
      .optional(),
    volume: z
      .strictObject({
        claim_name: objectName,
        sub_path: pathInVolume.optional(),
      })
      .optional(),
  })
  .refine((db) => db.volume === undefined || pathInVolume.safeParse(db.uri).success, {
    path: ['uri'],
    error: 'with a volume, expected a relative path inside the volume (no leading / and no ..)',
    when: (payload) => isMapping(payload.value) && typeof payload.value.uri === 'string',
  })
  // vantage6 bind-mounts such a path from the host; algorithm pods get no host paths.
  .refine((db) => db.volume !== undefined || !posix.isAbsolute(db.uri), {
    path: ['uri'],
    error: "is a path on a host, which algorithm pods cannot see (v6-node mounts no host paths): put the file on a PersistentVolumeClaim and give volume.claim_name, with uri the file's path inside that claim",
    when: (payload) => isMapping(payload.value) && typeof payload.value.uri === 'string',
  });

/** Labels are unique as the environment sees them (`databaseEnvLabel`). Checked even when an entry has other problems. */
const databasesSchema = z
  .array(databaseSchema, { error: expected('a list of databases') })
  .superRefine((databases, ctx) => {
    const seen = new Set<string>();
    databases.forEach((db: unknown, i) => {
      if (!isMapping(db) || typeof db.label !== 'string') return;
      const envLabel = databaseEnvLabel(db.label);
      if (seen.has(envLabel)) ctx.addIssue({ code: 'custom', path: [i, 'label'], message: 'is used by another database (labels are compared upper-cased, - as _)' });
      seen.add(envLabel);
    });
  }, { when: (payload) => Array.isArray(payload.value) })
  .default([]);

const encryptionSchema = z
  .strictObject({
    enabled: z.boolean({ error: expected('true or false') }).default(false),
    // null: how vantage6's templates write "no key file".
    private_key: nonEmpty.nullish().transform((v) => v ?? undefined),
  })
  .prefault({});

const policiesSchema = z
  .strictObject({
    allowed_algorithms: stringOrList.optional(),
    allowed_algorithm_stores: stringOrList.optional(),
    allowed_organizations: idOrNameList.optional(),
    allowed_users: idOrNameList.optional(),
    allow_basics_algorithm: z.boolean({ error: expected('true or false') }).default(true),
    require_algorithm_pull: z.boolean({ error: expected('true or false') }).default(true),
    allow_either_whitelist_or_store: z.boolean({ error: expected('true or false') }).default(false),
  })
  .prefault({});

// ---------------------------------------------------------------------------------------------
// our sections

const resourceListSchema = z.strictObject({ cpu: quantity, memory: quantity });
const partialResourceListSchema = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });

const resourcesSchema = z
  .strictObject({
    requests: resourceListSchema.partial().prefault({}).transform((r) => ({ cpu: r.cpu ?? '250m', memory: r.memory ?? '512Mi' })),
    limits: resourceListSchema.partial().prefault({}).transform((r) => ({ cpu: r.cpu ?? '2', memory: r.memory ?? '4Gi' })),
  })
  .prefault({});

const imageOverrideSchema = z.strictObject({
  image: nonEmpty,
  resources: z.strictObject({ requests: partialResourceListSchema.optional(), limits: partialResourceListSchema.optional() }).optional(),
  active_deadline_seconds: positiveInt.optional(),
});

const kubernetesSchema = z
  .strictObject({
    namespace: namespaceName.default('vantage6-tasks'),
    task_volume: z.strictObject(
      {
        claim_name: objectName,
        access_mode: z
          .enum(['ReadWriteOnce', 'ReadWriteMany'], { error: expected('ReadWriteOnce or ReadWriteMany') })
          .default('ReadWriteOnce'),
        mount_path: absolutePath.default('/var/lib/v6-node/tasks'),
      },
      { error: expected('a mapping with at least claim_name') },
    ),
    node_name: nonEmpty.optional(),
    image_pull_secrets: z.array(objectName, { error: expected('a list of Secret names') }).default([]),
    run: z
      .strictObject({
        resources: resourcesSchema,
        active_deadline_seconds: positiveInt.default(86400),
        ttl_seconds_after_finished: z
          .int({ error: expected('a non-negative integer') })
          .min(0, { error: expected('a non-negative integer') })
          .default(3600),
        termination_grace_period_seconds: z
          .int({ error: expected('a non-negative integer') })
          .min(0, { error: expected('a non-negative integer') })
          .default(5),
        run_as_user: positiveInt.default(10000),
        run_as_group: positiveInt.default(10000),
        fs_group: positiveInt.default(10000),
        tmp_size_limit: quantity.default('1Gi'),
        max_volume_bytes: positiveInt.default(10 * 1024 ** 3),
      })
      .prefault({}),
    image_overrides: z.array(imageOverrideSchema, { error: expected('a list') }).default([]),
  })
  .superRefine((k, ctx) => {
    if (k.task_volume.access_mode === 'ReadWriteOnce' && k.node_name === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['node_name'],
        message: 'required when kubernetes.task_volume.access_mode is ReadWriteOnce (set V6_KUBE_NODE_NAME from the downward API)',
      });
    }
  });

/** `true`/`false` as YAML booleans or as the text an environment variable carries. */
const booleanOrText = z
  .union([z.boolean(), z.enum(['true', 'false'])], { error: expected('true or false') })
  .transform((v) => v === true || v === 'true');

/** A TCP destination: http(s) URLs default to port 80/443, tcp:// URLs need their port. */
const tcpDestination = z
  .string({ error: expected('an http://, https:// or tcp://host:port URL') })
  .refine(
    (v) => {
      if (!URL.canParse(v)) return false;
      const url = new URL(v);
      return url.hostname !== '' && (['http:', 'https:'].includes(url.protocol) || (url.protocol === 'tcp:' && url.port !== ''));
    },
    { error: expected('an http://, https:// or tcp://host:port URL') },
  );

/**
 * The isolation probe (agent/isolation): a pod under the algorithm NetworkPolicies that must
 * reach the proxy and must not reach `forbidden_url`.
 */
const isolationSchema = z
  .strictObject({
    probe: z.boolean({ error: expected('true or false') }).default(true),
    allow_unenforced: booleanOrText.default(false),
    /** The isolation gate in every algorithm pod (agent/isolation/gate.ts); only while the probe runs and isolation is required. */
    gate: z.boolean({ error: expected('true or false') }).default(true),
    forbidden_url: tcpDestination.optional(),
    image: nonEmpty.optional(),
    image_pull_secrets: z.array(objectName, { error: expected('a list of Secret names') }).default([]),
    timeout_seconds: positiveInt.default(10),
    proxy_wait_seconds: positiveInt.default(60),
    interval_seconds: positiveInt.default(3600),
    retry_seconds: positiveInt.default(60),
  })
  .prefault({});

const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
/** vantage6 (Python) level names mapped onto pino's; NOTSET, which `v6 node new` offers, logs everything in Python. */
const pythonLevels: Readonly<Record<string, (typeof logLevels)[number]>> = { warning: 'warn', critical: 'fatal', notset: 'debug' };

const logLevel = z
  .string({ error: expected(`one of ${logLevels.join(', ')}`) })
  .transform((v) => pythonLevels[v.toLowerCase()] ?? v.toLowerCase())
  .pipe(z.enum(logLevels, { error: expected(`one of ${logLevels.join(', ')}`) }));

/** The vantage6 protocol a config speaks: 4.x (`server_url`, API key login) or 5 (`hq_url`, Keycloak). */
export type ProtocolVersion = 4 | 5;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What is wrong with the server keys, as [path, message]: which server, its login, its port. Reads
 * the fields warily: it runs also when their own schemas have failed.
 */
function serverProblems(c: { server_url?: unknown; hq_url?: unknown; port?: unknown; api_key?: unknown; name?: unknown; keycloak?: unknown }): Array<[string[], string]> {
  const problems: Array<[string[], string]> = [];
  const url = [c.server_url, c.hq_url].find((u) => typeof u === 'string');
  if (c.server_url === undefined && c.hq_url === undefined) problems.push([['server_url'], 'required: the vantage6 4.x server (or hq_url for a vantage6 5 hub)']);
  if (c.server_url !== undefined && c.hq_url !== undefined) {
    problems.push([['hq_url'], 'give server_url (a vantage6 4.x server) or hq_url (a vantage6 5 hub), not both']);
  }
  if (c.port !== undefined && url !== undefined && /:\d*$/.test(url.split('/')[2] ?? '')) {
    problems.push([['port'], `${c.server_url === undefined ? 'hq_url' : 'server_url'} already has a port; give it in one place only`]);
  }
  if (c.hq_url === undefined) {
    if (typeof c.api_key === 'string' && c.api_key !== '' && !UUID.test(c.api_key)) problems.push([['api_key'], 'expected a UUID (the node API key)']);
    if (c.keycloak !== undefined) problems.push([['keycloak'], 'only for a vantage6 5 hub: set hq_url instead of server_url']);
    if (c.name !== undefined) problems.push([['name'], 'only for a vantage6 5 hub: set hq_url instead of server_url']);
    return problems;
  }
  if (c.keycloak === undefined) problems.push([['keycloak', 'url'], 'required for a vantage6 5 hub: the Keycloak that issues the node\'s tokens (or KEYCLOAK_URL)']);
  if (c.name === undefined) problems.push([['name'], 'required for a vantage6 5 hub: the node\'s name, whose Keycloak client is <name>-node-client (or V6_NODE_NAME)']);
  return problems;
}

const configSchema = z
  .strictObject({
    /** A 4.x server's node API key (a UUID), or a 5.x node's Keycloak client secret. */
    api_key: nonEmpty,
    /** A vantage6 4.x server; `hq_url` instead for a vantage6 5 hub. */
    server_url: httpUrl('an http or https URL').optional(),
    hq_url: httpUrl('an http or https URL').optional(),
    port: portNumber.optional(),
    /** Default `/api` for a 4.x server, `/hq` for a 5 hub (as vantage6's own tools write them). */
    api_path: z
      .string({ error: expected('a string') })
      .refine((v) => v === '' || v.startsWith('/'), { error: expected('a path starting with / (or empty)') })
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
    /** A 5.x node's name at the hub: its Keycloak client is `<name>-node-client`. */
    name: nonEmpty.optional(),
    /** The Keycloak that issues a 5.x node's tokens. */
    keycloak: z.strictObject({ url: httpUrl('an http or https URL'), realm: nonEmpty.default('vantage6') }).optional(),
    databases: databasesSchema,
    encryption: encryptionSchema,
    policies: policiesSchema,
    algorithm_env: z
      .record(z.string(), envValue, { error: expected('a mapping of names to values') })
      .superRefine((values, ctx) => {
        for (const name of Object.keys(values)) {
          if (!isAlgorithmEnvName(name)) {
            ctx.addIssue({ code: 'custom', path: [name], message: 'not a name the node may set (an ASCII identifier, and not PKG_NAME)' });
          }
        }
      })
      .default({}),
    share_algorithm_logs: z.boolean({ error: expected('true or false') }).default(true),
    share_config: z.boolean({ error: expected('true or false') }).default(true),

    kubernetes: kubernetesSchema,
    redis: z
      .strictObject({
        url: z
          .string({ error: expected('a redis:// or rediss:// URL') })
          .refine((v) => URL.canParse(v) && ['redis:', 'rediss:'].includes(new URL(v).protocol), {
            error: 'expected a redis:// or rediss:// URL',
          })
          .default('redis://127.0.0.1:6379'),
        password: nonEmpty.optional(),
      })
      .prefault({}),
    queue: z
      .strictObject({
        concurrency: positiveInt.default(4),
        max_active_jobs: positiveInt.default(20),
        prefix: nonEmpty.default('v6-node'),
      })
      .prefault({}),
    proxy: z
      .strictObject(
        {
          url: httpUrl('an http or https URL with no port and no path (what algorithms get as HOST)').refine(
            (v) => {
              const url = new URL(v);
              return url.port === '' && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '';
            },
            { error: expected('scheme and host only: algorithms append :PORT themselves') },
          ),
          port: portNumber.default(7654),
          listen_port: portNumber.optional(),
          max_body_bytes: positiveInt.default(10 * 1024 * 1024),
          // What the proxy holds at once (proxy/bounds.ts); beyond either, 503 with Retry-After.
          max_concurrent_decryptions: positiveInt.default(1),
          max_bytes_in_flight: positiveInt.default(128 * 1024 * 1024),
        },
        { error: expected('a mapping with at least url') },
      )
      .transform((p) => ({ ...p, listen_port: p.listen_port ?? p.port })),
    metrics: z.strictObject({ port: portNumber.default(9464), proxy_port: portNumber.default(9465) }).prefault({}),
    isolation: isolationSchema,
    results: z.strictObject({ max_output_bytes: positiveInt.default(50 * 1024 * 1024) }).prefault({}),
    logging: z.strictObject({ level: logLevel.default('info') }).prefault({}),
  })
  // Run even when other fields are wrong, so that a wrong api_key is named with them.
  .superRefine((c, ctx) => serverProblems(c).forEach(([path, message]) => ctx.addIssue({ code: 'custom', path, message })), { when: () => true })
  .superRefine((c, ctx) => {
    if (c.encryption.enabled && c.encryption.private_key === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['encryption', 'private_key'],
        message: 'required when encryption.enabled is true (or set V6_PRIVATE_KEY_FILE)',
      });
    }
    c.databases.forEach((db, i) => {
      // A 4.x node gives algorithms <LABEL>_DATABASE_URI (vantage6 4's env contract).
      if (protocolOf(c) === 4 && !isValidEnvName(`${db.label.toUpperCase()}_DATABASE_URI`)) {
        ctx.addIssue({ code: 'custom', path: ['databases', i, 'label'], message: 'must be usable in environment variable names on a vantage6 4.x node (letters, digits and _, not starting with a digit)' });
      }
      if (db.volume?.claim_name === c.kubernetes.task_volume.claim_name) {
        ctx.addIssue({ code: 'custom', path: ['databases', i, 'volume', 'claim_name'], message: 'must not be the task volume claim' });
      }
    });
    // Without an image the probe never runs and every run waits for a verdict that cannot come.
    if (c.isolation.probe && c.isolation.image === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['isolation', 'image'],
        message:
          "required while isolation.probe is true: an image with node on its PATH that the cluster can pull (the agent's own image, e.g. v6-node:0.1.0, as the Helm chart sets it); or set isolation.probe: false to run without verifying isolation",
      });
    }
    if (c.metrics.port === c.proxy.listen_port) {
      ctx.addIssue({ code: 'custom', path: ['metrics', 'port'], message: 'must differ from proxy.listen_port (they share the pod)' });
    }
    if (c.metrics.proxy_port === c.proxy.listen_port || c.metrics.proxy_port === c.metrics.port) {
      ctx.addIssue({ code: 'custom', path: ['metrics', 'proxy_port'], message: 'must differ from proxy.listen_port and metrics.port (they share the pod)' });
    }
  })
  .transform((c) => ({ ...c, api_path: c.api_path ?? (c.hq_url === undefined ? '/api' : '/hq') }));

export type Config = z.output<typeof configSchema>;
export type DatabaseConfig = z.output<typeof databaseSchema>;
export type DatabaseType = (typeof databaseTypes)[number];
export type PoliciesConfig = Config['policies'];
export type KubernetesConfig = Config['kubernetes'];
export type ResourceRequirements = KubernetesConfig['run']['resources'];
export type ImageOverride = z.output<typeof imageOverrideSchema>;
export type LogLevel = (typeof logLevels)[number];
export type IsolationConfig = Config['isolation'];

// ---------------------------------------------------------------------------------------------
// Environment overrides

/** Environment variables that override a config path (the variable wins when set and non-empty). */
export const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: readonly string[] }> = [
  { env: 'V6_API_KEY', path: ['api_key'] },
  { env: 'V6_NODE_NAME', path: ['name'] },
  { env: 'KEYCLOAK_URL', path: ['keycloak', 'url'] },
  { env: 'KEYCLOAK_REALM', path: ['keycloak', 'realm'] },
  { env: 'V6_PRIVATE_KEY_FILE', path: ['encryption', 'private_key'] },
  { env: 'V6_KUBE_NODE_NAME', path: ['kubernetes', 'node_name'] },
  { env: 'V6_REDIS_URL', path: ['redis', 'url'] },
  { env: 'V6_REDIS_PASSWORD', path: ['redis', 'password'] },
  { env: 'V6_ISOLATION_ALLOW_UNENFORCED', path: ['isolation', 'allow_unenforced'] },
  { env: 'V6_LOG_LEVEL', path: ['logging', 'level'] },
];

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The mapping at `path` in `data`, created when absent; undefined when something else is there. */
function mappingAt(data: Record<string, unknown>, path: readonly string[]): Record<string, unknown> | undefined {
  let current = data;
  for (const key of path) {
    const child = current[key] ?? {};
    if (!isMapping(child)) return undefined;
    current[key] = child;
    current = child;
  }
  return current;
}

/**
 * A copy of `raw` with the overrides applied, and which paths came from which variable. A value
 * that is not a mapping where a section is expected is left for validation to report.
 */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): { data: Record<string, unknown>; fromEnv: Map<string, string> } {
  const data = structuredClone(raw);
  const fromEnv = new Map<string, string>();
  for (const { env: name, path } of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const parent = mappingAt(data, path.slice(0, -1));
    if (parent === undefined) continue;
    parent[path.at(-1)!] = value;
    fromEnv.set(path.join('.'), name);
  }
  return { data, fromEnv };
}

// ---------------------------------------------------------------------------------------------
// Parsing

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc === '' ? String(key) : `${acc}.${String(key)}`;
  }, '');
}

/** Generic messages for issues the field schemas above do not word themselves. */
const genericError: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'required';
    return issue.expected === 'object' ? 'expected a mapping' : issue.expected === 'array' ? 'expected a list' : `expected ${issue.expected}`;
  }
  return undefined;
};

function problemsOf(error: z.ZodError, fromEnv: Map<string, string>): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`);
    }
    const path = formatPath(issue.path);
    const envName = fromEnv.get(issue.path.join('.'));
    const where = envName === undefined ? path || '(top level)' : `${path} (from ${envName})`;
    return [`${where}: ${issue.message}`];
  });
}

/** The ignored vantage6 keys present in `raw`, removed from a copy, and the warnings for them. */
function dropIgnoredKeys(raw: Record<string, unknown>): { data: Record<string, unknown>; warnings: string[] } {
  const warnings: string[] = [];
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const reason = IGNORED_VANTAGE6_KEYS[key];
    if (reason === undefined) data[key] = value;
    else warnings.push(ignoredWarning(key, reason));
  }
  if (isMapping(data.logging)) {
    const logging: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data.logging)) {
      if (IGNORED_VANTAGE6_LOGGING_KEYS.includes(key)) warnings.push(ignoredWarning(`logging.${key}`, 'the agent logs JSON lines to stdout'));
      else logging[key] = value;
    }
    data.logging = logging;
  }
  return { data, warnings };
}

/**
 * vantage6 5's `production` (default true: the node stops when algorithm pods are not isolated;
 * false: it warns and goes on) says what `isolation.allow_unenforced` says, negated: it becomes
 * that key, unless the file gives that key too, which must then agree. Returns a copy of `data`.
 */
function productionAsAllowUnenforced(data: Record<string, unknown>): { data: Record<string, unknown>; problems: string[] } {
  if (!('production' in data)) return { data, problems: [] };
  const { production, ...rest } = data;
  if (typeof production !== 'boolean') return { data: rest, problems: ['production: expected true or false'] };
  const isolation = rest.isolation ?? {};
  if (!isMapping(isolation)) return { data: rest, problems: [] };
  const given = isolation.allow_unenforced;
  if (given === undefined) return { data: { ...rest, isolation: { ...isolation, allow_unenforced: !production } }, problems: [] };
  const allows = given === true || given === 'true' ? true : given === false || given === 'false' ? false : undefined;
  const problems = allows === production ? ['production: says the opposite of isolation.allow_unenforced (production: false is allow_unenforced: true); give one of them'] : [];
  return { data: rest, problems };
}

/**
 * `databases` from vantage6 5's `DATABASE_*` variables (database-env.ts) when `DATABASE_LABELS`
 * lists any, their sources added to `fromEnv`; the file must then list none of its own (the chart
 * writes `databases: []` when its values have none). Returns a copy of `data`.
 */
function applyDatabaseEnv(data: Record<string, unknown>, env: NodeJS.ProcessEnv, fromEnv: Map<string, string>): { data: Record<string, unknown>; problems: string[] } {
  const given = databasesFromEnv(env);
  if (given === undefined) return { data, problems: [] };
  const inFile = data.databases !== undefined && !(Array.isArray(data.databases) && data.databases.length === 0);
  if (inFile) return { data, problems: [`databases: given in the file and by ${DATABASE_LABELS}; give them in one place`] };
  for (const [path, name] of given.sources) fromEnv.set(path, name);
  return { data: { ...data, databases: given.databases }, problems: [] };
}

/** vantage6 compares ids as strings, so a number in these lists never matches (spec A9). */
function numericIdWarnings(policies: PoliciesConfig): string[] {
  return (['allowed_organizations', 'allowed_users'] as const).flatMap((key) =>
    (policies[key] ?? []).flatMap((entry, i) =>
      typeof entry === 'number' ? [`policies.${key}[${i}]: the number ${entry} never matches, as in vantage6, which compares ids as text; write '${entry}'`] : [],
    ),
  );
}

/**
 * Parse and validate a config file's text. Throws `ConfigError` naming every wrong field at once
 * (YAML syntax errors by line and column); never includes a value in a message.
 * `source` names the file in the error message.
 */
export function parseConfig(yamlText: string, env: NodeJS.ProcessEnv, source = 'config'): { config: Config; warnings: string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `line ${line}, column ${col}: YAML ${e.code}`;
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (!isMapping(raw)) throw new ConfigError(source, ['(top level): expected a mapping']);

  if (isMapping(raw.node)) throw new ConfigError(source, [HELM_VALUES_PROBLEM]);

  const { data: kept, warnings } = dropIgnoredKeys(raw);
  const { data, problems: moved } = productionAsAllowUnenforced(kept);
  const { data: overridden, fromEnv } = applyEnvOverrides(data, env);
  const { data: withEnv, problems: twice } = applyDatabaseEnv(overridden, env, fromEnv);
  const result = configSchema.safeParse(withEnv, { error: genericError });
  const problems = [...moved, ...twice, ...(result.success ? [] : problemsOf(result.error, fromEnv))];
  if (!result.success || problems.length > 0) throw new ConfigError(source, problems);
  return { config: result.data, warnings: [...warnings, ...numericIdWarnings(result.data.policies)] };
}

/** Read and parse the config file at `path`; see `parseConfig`. */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv): Promise<{ config: Config; warnings: string[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory, not a file' : message;
    throw new ConfigError(path, [`(the file): cannot be read: ${reason}`]);
  }
  return parseConfig(text, env, path);
}

// ---------------------------------------------------------------------------------------------
// Derived values and logging

/** The protocol the config is for: a 5 hub's `hq_url`, or a 4.x server's `server_url`. */
export function protocolOf(config: Pick<Config, 'hq_url'>): ProtocolVersion {
  return config.hq_url === undefined ? 4 : 5;
}

/** The 4.x server's `server_url` or the 5 hub's `hq_url` (validation makes sure there is exactly one). */
export function serverUrlOf(config: Pick<Config, 'server_url' | 'hq_url'>): string {
  return config.server_url ?? config.hq_url ?? '';
}

/** The server's REST base URL as vantage6 builds it: `server_url[:port]api_path` (A1). */
export function apiBaseUrl(config: Pick<Config, 'server_url' | 'hq_url' | 'port' | 'api_path'>): string {
  return `${serverUrlOf(config)}${config.port === undefined ? '' : `:${config.port}`}${config.api_path}`;
}

const REDACTED = '[redacted]';

/** A URL with its password replaced; text that is not a URL with a password is returned as is. */
function withoutPassword(text: string): string {
  if (!URL.canParse(text)) return text;
  const url = new URL(text);
  if (url.password === '') return text;
  url.password = REDACTED;
  return url.toString();
}

/**
 * A copy safe to log: the API key, the Redis password, passwords in URLs, database `env` values
 * and `algorithm_env` values (either may hold credentials) are replaced by `[redacted]`.
 */
export function redactedConfig(config: Config): Config {
  const redactValues = (values: Record<string, string | number | boolean>) =>
    Object.fromEntries(Object.keys(values).map((key) => [key, REDACTED]));
  return {
    ...config,
    api_key: REDACTED,
    databases: config.databases.map((db) => ({
      ...db,
      uri: withoutPassword(db.uri),
      ...(db.env === undefined ? {} : { env: redactValues(db.env) }),
    })),
    algorithm_env: redactValues(config.algorithm_env),
    redis: {
      url: withoutPassword(config.redis.url),
      ...(config.redis.password === undefined ? {} : { password: REDACTED }),
    },
  };
}

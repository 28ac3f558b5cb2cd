import test from 'ava';
import type { V1Container, V1Job, V1PodSpec } from '@kubernetes/client-node';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Secret } from 'kubernetes-models/v1/Secret';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../config.js';
import { decodeEnvValue, encodeEnvValue } from '../protocol/env.js';
import { AlgorithmEnvError, OwnerUidMissingError } from './errors.js';
import { buildRunObjects, imageOverrideFor, secretOwnedBy, type RunSpecInput } from './job-spec.js';
import { GATE_CONTAINER, type IsolationGate } from '../isolation/gate.js';

const IMAGE = 'harbor2.vantage6.ai/demo/average:1.2';

function config(extra: Record<string, unknown> = {}, kubernetes: Record<string, unknown> = {}): Config {
  return parseConfig(
    stringify({
      api_key: '2f1b6a4e-9d0c-4c1e-8f7a-6b5d4c3b2a10',
      server_url: 'https://v6.example.org',
      kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' }, ...kubernetes },
      proxy: { url: 'http://v6-node.vantage6.svc.cluster.local' },
      isolation: { probe: false },
      databases: [
        { label: 'default', type: 'csv', uri: 'patients.csv', volume: { claim_name: 'research-data', sub_path: 'cohort' } },
        { label: 'extra', type: 'parquet', uri: 'extra.parquet', volume: { claim_name: 'research-data' } },
        { label: 'other', type: 'csv', uri: 'x.csv', volume: { claim_name: 'more-data' } },
        { label: 'omop', type: 'sql', uri: 'postgresql://omop:5432/omop' },
      ],
      ...extra,
    }),
    {},
  ).config;
}

function input(overrides: Partial<RunSpecInput> = {}, run: Partial<RunSpecInput['run']> = {}): RunSpecInput {
  return {
    run: { id: 1234, taskId: 567, jobId: 89, parentId: 560, image: IMAGE, databases: [{ label: 'default', parameters: '{"query":"q"}' }], ...run },
    node: { id: 7, organizationId: 3, collaborationId: 2, name: 'hospital-a' },
    token: 'eyJhbGciOiJIUzI1NiJ9.container.token',
    proxyUrl: 'http://10.43.0.12',
    isolationGate: undefined,
    config: config(),
    ...overrides,
  };
}

function podSpec(job: V1Job): V1PodSpec {
  return job.spec!.template.spec!;
}

function container(job: V1Job): V1Container {
  return podSpec(job).containers[0]!;
}

/** Every [path, value] pair in a JSON-like object. */
function* walk(value: unknown, path = ''): Generator<[string, unknown]> {
  yield [path, value];
  if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) yield* walk(child, `${path}.${key}`);
  }
}

test('the Job and Secret validate against the Kubernetes schemas', (t) => {
  const { job, secret } = buildRunObjects(input());
  t.notThrows(() => new Job(job as ConstructorParameters<typeof Job>[0]).validate());
  t.notThrows(() => new Secret(secret as ConstructorParameters<typeof Secret>[0]).validate());
});

test('Job and Secret share a deterministic RFC 1123 name in the task namespace', (t) => {
  const { job, secret } = buildRunObjects(input());
  t.is(job.metadata!.name, 'v6-node-7-run-1234');
  t.is(secret.metadata!.name, job.metadata!.name);
  t.regex(job.metadata!.name!, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  t.true(job.metadata!.name!.length <= 63);
  t.is(job.metadata!.namespace, 'vantage6-tasks');
  t.is(secret.metadata!.namespace, 'vantage6-tasks');
  t.deepEqual(buildRunObjects(input()), buildRunObjects(input()), 'pure and deterministic');
});

test('every hardening field is set', (t) => {
  const { job } = buildRunObjects(input());
  t.like(job.spec, { backoffLimit: 0, activeDeadlineSeconds: 86400, ttlSecondsAfterFinished: 3600 });
  t.like(podSpec(job), {
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 5,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: { runAsNonRoot: true, runAsUser: 10000, runAsGroup: 10000, fsGroup: 10000, seccompProfile: { type: 'RuntimeDefault' } },
  });
  t.deepEqual(container(job).securityContext, {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  });
  t.deepEqual(container(job).resources, { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '4Gi' } });
});

test('nothing of the host is used, and only volume types the restricted profile allows', (t) => {
  const { job, secret } = buildRunObjects(input());
  for (const [path, value] of [...walk(job), ...walk(secret)]) {
    const key = path.slice(path.lastIndexOf('.') + 1);
    t.false(['hostPath', 'hostNetwork', 'hostPID', 'hostIPC', 'hostPort', 'hostUsers'].includes(key), path);
    if (key === 'privileged' || key === 'allowPrivilegeEscalation') t.is(value, false, path);
  }
  const allowed = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
  for (const volume of podSpec(job).volumes!) {
    t.deepEqual(Object.keys(volume).filter((k) => k !== 'name').filter((k) => !allowed.includes(k)), [], volume.name);
  }
});

test('the pod sees its own run folder, the job temp folder, its token and the databases read-only', (t) => {
  const { job } = buildRunObjects(input());
  t.deepEqual(container(job).volumeMounts, [
    { name: 'tasks', mountPath: '/mnt/data/task-000001234', subPath: 'task-000001234' },
    { name: 'tasks', mountPath: '/mnt/tmp', subPath: 'tmp/job-89' },
    { name: 'token', mountPath: '/mnt/token', readOnly: true },
    { name: 'scratch', mountPath: '/tmp' },
    { name: 'database-0', mountPath: '/mnt/databases/default', readOnly: true, subPath: 'cohort' },
    { name: 'database-0', mountPath: '/mnt/databases/extra', readOnly: true },
    { name: 'database-1', mountPath: '/mnt/databases/other', readOnly: true },
  ]);
  t.deepEqual(podSpec(job).volumes, [
    { name: 'tasks', persistentVolumeClaim: { claimName: 'tasks' } },
    { name: 'token', secret: { secretName: 'v6-node-7-run-1234', defaultMode: 0o440, items: [{ key: 'token', path: 'token' }] } },
    { name: 'scratch', emptyDir: { sizeLimit: '1Gi' } },
    { name: 'database-0', persistentVolumeClaim: { claimName: 'research-data', readOnly: true } },
    { name: 'database-1', persistentVolumeClaim: { claimName: 'more-data', readOnly: true } },
  ]);
});

test('the Secret holds the container token', (t) => {
  const { secret } = buildRunObjects(input());
  t.is(Buffer.from(secret.data!.token!, 'base64').toString('utf8'), 'eyJhbGciOiJIUzI1NiJ9.container.token');
  t.like(secret, { type: 'Opaque', immutable: true });
});

test('configured credentials stay out of the Job: the container refers to the run\'s Secret, which holds them', (t) => {
  const secretConfig = config({
    databases: [{ label: 'omop', type: 'sql', uri: 'postgresql://omop:5432/omop', env: { password: 'db-password-123' } }],
    algorithm_env: { API_TOKEN: 'algorithm-token-456' },
  });
  const { job, secret } = buildRunObjects(input({ config: secretConfig }));
  const spec = JSON.stringify(job);
  for (const value of ['db-password-123', 'algorithm-token-456']) {
    t.false(spec.includes(value) || spec.includes(encodeEnvValue(value)), `${value} is not in the Job`);
  }
  const env = Object.fromEntries(container(job).env!.map((v) => [v.name, v]));
  t.deepEqual(env['OMOP_DB_PARAM_PASSWORD']!.valueFrom, { secretKeyRef: { name: 'v6-node-7-run-1234', key: 'env.OMOP_DB_PARAM_PASSWORD' } });
  t.is(decodeEnvValue(Buffer.from(secret.data!['env.OMOP_DB_PARAM_PASSWORD']!, 'base64').toString('utf8')), 'db-password-123');
  t.is(decodeEnvValue(Buffer.from(secret.data!['env.API_TOKEN']!, 'base64').toString('utf8')), 'algorithm-token-456');
  t.notThrows(() => new Secret(secret as ConstructorParameters<typeof Secret>[0]).validate());
});

test('the env decodes to the contract', (t) => {
  const { job } = buildRunObjects(input());
  const env = Object.fromEntries(container(job).env!.map((v) => [v.name, decodeEnvValue(v.value!)]));
  t.like(env, {
    INPUT_FILE: '/mnt/data/task-000001234/input',
    OUTPUT_FILE: '/mnt/data/task-000001234/output',
    TOKEN_FILE: '/mnt/token/token',
    TEMPORARY_FOLDER: '/mnt/tmp',
    HOST: 'http://10.43.0.12',
    PORT: '7654',
    DEFAULT_QUERY: 'q',
    USER_REQUESTED_DATABASE_LABELS: 'default',
    DEFAULT_DATABASE_URI: '/mnt/databases/default/patients.csv',
    OMOP_DATABASE_URI: 'postgresql://omop:5432/omop',
    DB_LABELS: 'default,extra,other,omop',
  });
});

test('labels and annotations, on the Job and its pods', (t) => {
  const { job, secret } = buildRunObjects(input());
  const labels = {
    'app.kubernetes.io/managed-by': 'v6-node',
    'app.kubernetes.io/component': 'algorithm',
    'vantage6.ai/node-id': '7',
    'vantage6.ai/run-id': '1234',
    'vantage6.ai/task-id': '567',
    'vantage6.ai/job-id': '89',
    'vantage6.ai/parent-task-id': '560',
  };
  const annotations = {
    'vantage6.ai/image': IMAGE,
    'vantage6.ai/task-id': '567',
    'vantage6.ai/parent-task-id': '560',
    'vantage6.ai/collaboration-id': '2',
    'vantage6.ai/node-name': 'hospital-a',
  };
  t.deepEqual(job.metadata!.labels, labels);
  t.deepEqual(secret.metadata!.labels, labels);
  t.deepEqual(job.spec!.template.metadata!.labels, { ...labels, 'vantage6.ai/role': 'algorithm' });
  t.deepEqual(job.metadata!.annotations, annotations);
  t.deepEqual(job.spec!.template.metadata!.annotations, annotations);

  const topLevel = buildRunObjects(input({}, { parentId: null })).job;
  t.false('vantage6.ai/parent-task-id' in topLevel.metadata!.labels!);
  t.false('vantage6.ai/parent-task-id' in topLevel.metadata!.annotations!);
});

const pinning: Array<[string, Record<string, unknown>, boolean]> = [
  ['ReadWriteOnce pins pods to the agent node', { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteOnce' }, node_name: 'worker-3' }, true],
  ['ReadWriteMany lets them run anywhere', { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' }, node_name: 'worker-3' }, false],
];
for (const [title, kubernetes, pinned] of pinning) {
  test(title, (t) => {
    const { job } = buildRunObjects(input({ config: config({}, kubernetes) }));
    t.is(podSpec(job).nodeName, undefined, 'never bypasses the scheduler');
    if (pinned) {
      t.deepEqual(podSpec(job).affinity, {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['worker-3'] }] }],
          },
        },
      });
    } else {
      t.is(podSpec(job).affinity, undefined);
    }
  });
}

const pullPolicies: Array<[boolean, string]> = [
  [true, 'Always'],
  [false, 'IfNotPresent'],
];
for (const [requirePull, policy] of pullPolicies) {
  test(`require_algorithm_pull ${requirePull} → imagePullPolicy ${policy}`, (t) => {
    const { job } = buildRunObjects(input({ config: config({ policies: { require_algorithm_pull: requirePull } }) }));
    t.is(container(job).imagePullPolicy, policy);
  });
}

test('image pull secrets are referenced only when configured', (t) => {
  t.is(podSpec(buildRunObjects(input()).job).imagePullSecrets, undefined);
  const { job } = buildRunObjects(input({ config: config({}, { image_pull_secrets: ['harbor', 'ghcr'] }) }));
  t.deepEqual(podSpec(job).imagePullSecrets, [{ name: 'harbor' }, { name: 'ghcr' }]);
});

const overrides = [
  { image: 'harbor2.vantage6.ai/demo/other', resources: { limits: { memory: '1Gi' } } },
  { image: 'harbor2.vantage6.ai/demo/average', resources: { limits: { memory: '16Gi' }, requests: { cpu: '1' } }, active_deadline_seconds: 60 },
  { image: '^harbor2\\.vantage6\\.ai/demo/.*', resources: { limits: { cpu: '8' } } },
];
const overrideCases: Array<[string, string, { deadline: number; requests: object; limits: object }]> = [
  ['name without tag matches any tag', IMAGE, { deadline: 60, requests: { cpu: '1', memory: '512Mi' }, limits: { cpu: '2', memory: '16Gi' } }],
  ['a regular expression, when no earlier entry matches', 'harbor2.vantage6.ai/demo/glm:3', { deadline: 86400, requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '8', memory: '4Gi' } }],
  ['no match keeps the defaults', 'docker.io/library/python:3', { deadline: 86400, requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '4Gi' } }],
];
for (const [title, image, expected] of overrideCases) {
  test(`image overrides: ${title}`, (t) => {
    const { job } = buildRunObjects(input({ config: config({}, { image_overrides: overrides }) }, { image }));
    t.is(job.spec!.activeDeadlineSeconds, expected.deadline);
    t.deepEqual(container(job).resources, { requests: expected.requests, limits: expected.limits });
  });
}

test('imageOverrideFor returns the first match', (t) => {
  const parsed = config({}, { image_overrides: overrides }).kubernetes.image_overrides;
  t.is(imageOverrideFor(parsed, 'harbor2.vantage6.ai/demo/other:1'), parsed[0]);
  t.is(imageOverrideFor(parsed, 'harbor2.vantage6.ai/demo/average'), parsed[1]);
  t.is(imageOverrideFor(parsed, 'elsewhere/image'), undefined);
});

test('a run whose environment cannot be built is refused with the env error', (t) => {
  const error = t.throws(() => buildRunObjects(input({}, { databases: [{ label: 'default', parameters: 'not json' }] })), { instanceOf: AlgorithmEnvError });
  t.is(error.code, 'V6_KUBE_DATABASE_PARAMETERS_INVALID');
});

test('secretOwnedBy makes the created Job the owner of the Secret', (t) => {
  const { job, secret } = buildRunObjects(input());
  const created = { ...job, metadata: { ...job.metadata, uid: '0d6c2d4e-6a7b-4f1e-9a52-3c1b2d4e5f60' } };
  const owned = secretOwnedBy(secret, created);
  t.deepEqual(owned.metadata!.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'v6-node-7-run-1234', uid: '0d6c2d4e-6a7b-4f1e-9a52-3c1b2d4e5f60' }]);
  t.is(secret.metadata!.ownerReferences, undefined, 'the input is not changed');
  t.notThrows(() => new Secret(owned as ConstructorParameters<typeof Secret>[0]).validate());
  t.throws(() => secretOwnedBy(secret, job), { instanceOf: OwnerUidMissingError, message: /v6-node-7-run-1234 has no uid/ });
});

test('with the isolation gate the algorithm starts after it, in the same pod; its image pull Secret is added', (t) => {
  const gate: IsolationGate = { image: 'v6-node:0.1.0', forbidden: { host: '10.43.0.1', port: 443 }, imagePullSecrets: ['node-registry', 'regcred'] };
  const spec = podSpec(buildRunObjects(input({ isolationGate: gate, config: config({}, { image_pull_secrets: ['regcred'] }) })).job);
  t.deepEqual(spec.initContainers?.map((c) => [c.name, c.image]), [[GATE_CONTAINER, 'v6-node:0.1.0']]);
  t.deepEqual(spec.imagePullSecrets, [{ name: 'regcred' }, { name: 'node-registry' }]);
  t.is(podSpec(buildRunObjects(input()).job).initContainers, undefined, 'no gate, no init container');
});

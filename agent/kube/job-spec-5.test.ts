// The Job of a vantage6 5 run (the 5.x contract §5): upstream's env, encoded as upstream encodes
// it (vectors of §5.3, computed with Python's base64.b32encode), upstream's paths, and what we do
// differently: the session read-only, the token for central compute only and never in the Job,
// no database for anything but an extraction, the action on the pod for the NetworkPolicies.
import test from 'ava';
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { stringify } from 'yaml';
import { RunNotRunnableError } from '../errors.js';
import { parseConfig } from '../config.js';
import type { Action } from '../protocol/actions.js';
import { decodeEnvValue } from '../protocol/env.js';
import { RunStatus } from '../protocol/run-status.js';
import type { ServerTaskDatabase } from '../server/types.js';
import { buildRunObjects, type RunSpecInput } from './job-spec.js';

const config = parseConfig(
  stringify({
    api_key: 'node-client-secret',
    hq_url: 'https://hq.example.org',
    name: 'hospital-a',
    keycloak: { url: 'https://auth.example.org' },
    kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' } },
    proxy: { url: 'http://v6-node.vantage6.svc.cluster.local' },
    isolation: { probe: false },
    databases: [
      { label: 'default', type: 'csv', uri: 'patients.csv', volume: { claim_name: 'research-data' }, env: { password: 's3cret' } },
      { label: 'omop', type: 'sql', uri: 'postgresql://omop:5432/omop' },
    ],
    algorithm_env: { SITE: 'a', TASK_ID: 'must not win' },
  }),
  {},
).config;

const DATAFRAMES: ServerTaskDatabase[] = [
  { label: null as unknown as string, type: 'dataframe', dataframe_id: 4, dataframe_name: 'b', position: 1 },
  { label: null as unknown as string, type: 'dataframe', dataframe_id: 3, dataframe_name: 'a', position: 0 },
  { label: null as unknown as string, type: 'dataframe', dataframe_id: 5, dataframe_name: 'c', position: 1 },
];

function build(action: Action, databases: ServerTaskDatabase[] = DATAFRAMES, token: string | undefined = 'container.jwt') {
  const input: RunSpecInput = {
    run: { id: 12, taskId: 34, jobId: 34, parentId: null, image: 'harbor2.vantage6.ai/demo/average', databases, v5: { action, method: 'partial_sum', sessionId: 7 } },
    node: { id: 5, organizationId: 2, collaborationId: 1, name: 'hospital-a' },
    token,
    proxyUrl: 'http://10.43.0.12',
    isolationGate: undefined,
    config,
  };
  return buildRunObjects(input);
}

const container = (objects: ReturnType<typeof build>): V1Container => objects.job.spec!.template.spec!.containers[0]!;
const plainEnv = (objects: ReturnType<typeof build>) =>
  Object.fromEntries(container(objects).env!.filter((e: V1EnvVar) => e.value !== undefined).map((e) => [e.name, e.value!]));
const secretEnv = (objects: ReturnType<typeof build>) =>
  Object.fromEntries(
    container(objects)
      .env!.filter((e) => e.valueFrom !== undefined)
      .map((e) => [e.name, Buffer.from(objects.secret.data![e.valueFrom!.secretKeyRef!.key]!, 'base64').toString('utf8')]),
  );

test('a compute run gets upstream\'s variables, in its order, encoded as upstream encodes them', (t) => {
  const objects = build('federated_compute');
  const env = plainEnv(objects);
  t.deepEqual(Object.keys(env), [
    'INPUT_FILE', 'OUTPUT_FILE', 'SESSION_FOLDER', 'SESSION_FILE', 'HOST', 'PORT', 'API_PATH', 'ALGORITHM_METHOD',
    'FUNCTION_ACTION', 'TASK_ID', 'NODE_ID', 'ORGANIZATION_ID', 'COLLABORATION_ID', 'USER_REQUESTED_DATAFRAMES',
  ]);
  // Vectors from the 5.x contract §5.3, made with Python's base64.b32encode.
  t.is(env.INPUT_FILE, 'F5QXA4BPOZQW45DBM5STML3UMFZWWL3JNZYHK5A!');
  t.is(env.OUTPUT_FILE, 'F5QXA4BPOZQW45DBM5STML3UMFZWWL3POV2HA5LU');
  t.is(env.SESSION_FOLDER, 'F5QXA4BPOZQW45DBM5STML3UMFZWWL3TMVZXG2LPNY!!!!!!');
  t.is(env.SESSION_FILE, 'F5QXA4BPOZQW45DBM5STML3UMFZWWL3TMVZXG2LPNYXXGZLTONUW63S7ON2GC5DFFZYGC4TROVSXI!!!');
  t.is(env.PORT, 'G43DKNA!');
  t.is(env.API_PATH, '');
  t.is(decodeEnvValue(env.USER_REQUESTED_DATAFRAMES!), 'a;b,c', 'positions in order, names within a position as the task lists them');
  t.is(decodeEnvValue(env.FUNCTION_ACTION!), 'federated_compute');
  t.is(decodeEnvValue(env.ALGORITHM_METHOD!), 'partial_sum');
  t.is(decodeEnvValue(env.TASK_ID!), '34');
  t.is(decodeEnvValue(env.HOST!), 'http://10.43.0.12');
  // algorithm_env cannot replace a variable of the contract; its own keys come from the Secret.
  t.deepEqual(Object.keys(secretEnv(objects)), ['SITE']);
  t.is(decodeEnvValue(secretEnv(objects).SITE!), 'a');
  t.notThrows(() => new Job(objects.job as ConstructorParameters<typeof Job>[0]).validate());
});

test('only a central compute run gets a container token, as CONTAINER_TOKEN from the Secret and never in the Job', (t) => {
  const central = build('central_compute');
  t.is(decodeEnvValue(secretEnv(central).CONTAINER_TOKEN!), 'container.jwt');
  t.false(JSON.stringify(central.job).includes('container.jwt'));
  for (const action of ['federated_compute', 'preprocessing'] as const) {
    const objects = build(action, DATAFRAMES, undefined);
    t.false('CONTAINER_TOKEN' in secretEnv(objects), action);
    t.false(JSON.stringify(objects).includes('container.jwt'), action);
  }
  // No token file either: that was 4.x's.
  t.false(container(central).volumeMounts!.some((m) => m.mountPath.startsWith('/mnt/token')));
});

test('the input, output and session are at upstream\'s paths; the session is read-only, the output the only writable file of the task volume', (t) => {
  const mounts = container(build('federated_compute')).volumeMounts!;
  t.deepEqual(
    mounts.filter((m) => m.name === 'tasks'),
    [
      { name: 'tasks', mountPath: '/app/vantage6/task/input', subPath: 'task-000000012/input', readOnly: true },
      { name: 'tasks', mountPath: '/app/vantage6/task/output', subPath: 'task-000000012/output' },
      { name: 'tasks', mountPath: '/app/vantage6/task/session', subPath: 'sessions/session000000007', readOnly: true },
    ],
  );
  t.false(mounts.some((m) => m.mountPath.startsWith('/mnt/databases')), 'a compute run reads dataframes, not databases');
});

test('an extraction gets its one source database: URI in the pod, type, and its env as DB_PARAM_ from the Secret', (t) => {
  const objects = build('data_extraction', [{ label: 'default', type: 'source' }]);
  const env = plainEnv(objects);
  t.is(decodeEnvValue(env.FUNCTION_ACTION!), 'data_extraction');
  t.is(env.FUNCTION_ACTION, 'MRQXIYK7MV4HI4TBMN2GS33O');
  t.is(decodeEnvValue(env.DATABASE_URI!), '/mnt/databases/default/patients.csv');
  t.is(decodeEnvValue(env.DATABASE_TYPE!), 'csv');
  t.false('USER_REQUESTED_DATAFRAMES' in env);
  t.is(decodeEnvValue(secretEnv(objects).DB_PARAM_PASSWORD!), 's3cret');
  t.false(JSON.stringify(objects.job).includes('s3cret'));
  t.true(container(objects).volumeMounts!.some((m) => m.mountPath === '/mnt/databases/default' && m.readOnly === true));
});

test('the pod carries its action for the NetworkPolicies, the Job its session', (t) => {
  const objects = build('preprocessing');
  t.is(objects.job.spec!.template.metadata!.labels!['vantage6.ai/action'], 'preprocessing');
  t.is(objects.job.metadata!.annotations!['vantage6.ai/session-id'], '7');
});

test('a task whose databases do not fit its action is failed, saying what it asked', (t) => {
  const failed = (action: Action, databases: ServerTaskDatabase[]) => {
    const error = t.throws(() => build(action, databases), { instanceOf: RunNotRunnableError });
    t.is(error.status, RunStatus.Failed);
    return error.message;
  };
  t.regex(failed('data_extraction', []), /exactly one source database; the task asks for 0 databases/);
  t.regex(failed('data_extraction', [{ label: 'nope', type: 'source' }]), /no database labelled 'nope'; its databases are: default, omop/);
  t.regex(failed('data_extraction', DATAFRAMES.slice(0, 1)), /a dataframe/);
  t.regex(failed('federated_compute', [{ label: 'default', type: 'source' }]), /only a data extraction reads a source database/);
  t.regex(failed('federated_compute', [{ label: '', type: 'dataframe', dataframe_name: '../../etc/passwd', position: 0 }]), /no usable dataframe name/);
});

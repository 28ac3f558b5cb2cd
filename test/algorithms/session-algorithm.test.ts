// The vantage6 5 test algorithm (v6_session/) run under the 5.x container contract (spec §5.1-5.5)
// by the real vantage6-algorithm-tools 5.0.3, as the simulated image runs it (session-image.ts):
// environment values encoded as the node encodes them, the input a JSON object of keyword
// arguments, a session's dataframes as parquet files in SESSION_FOLDER. A session's steps are
// chained the way the node chains them: the extraction's output becomes `<dataframe>.parquet`.
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeEnvValue, type EnvValue } from '../../agent/protocol/env.js';
import { startFakeProxy } from '../cluster/algorithms/fake-proxy.js';
import { signJwt } from '../dev-server/auth/jwt.js';
import { ensureReachablePython, type ReachablePython } from './reachable-python.js';
import { sessionImage, V6_SESSION_IMAGE } from './session-image.js';

const execFileAsync = promisify(execFile);

/** On a new machine the hub's virtualenv is made first (pip, from test/v6-hub/requirements.txt). */
const VENV_MS = 15 * 60_000;
const NODE = { id: 3, organizationId: 2, collaborationId: 1 };
/** Ages with a missing value; the sum and count of the present ones are below. */
const PATIENTS_CSV = 'id,age,site\n1,30,a\n2,,b\n3,40,a\n4,50.5,b\n';
const AGES = { sum: 120.5, count: 3 };

let python: ReachablePython;
let scratch: string;

test.before(async (t) => {
  t.timeout(VENV_MS, 'the vantage6 5.0.3 virtualenv was not made: see test/v6-hub/venv.ts');
  python = await ensureReachablePython();
  scratch = await mkdtemp(join(tmpdir(), 'v6-session-algorithm-'));
});

test.after.always(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

type Action = 'data_extraction' | 'preprocessing' | 'federated_compute' | 'central_compute';

interface RunOptions {
  method: string;
  action: Action;
  args?: Record<string, unknown>;
  /** The session's folder (default: a new, empty one). */
  session?: string;
  /** data_extraction: the source database. */
  database?: { uri: string; type: string };
  /** The other actions: USER_REQUESTED_DATAFRAMES, as the node joins them. */
  dataframes?: string;
  /** The proxy's port. */
  port?: number;
  /** Secret-backed values (CONTAINER_TOKEN, DB_PARAM_*): not encoded. */
  secret?: Record<string, string>;
}

interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  output: Buffer;
  outputFile: string;
}

let runs = 0;

/** One run of the algorithm in a folder of its own, with the environment the node gives it (§5.2). */
async function runSession(options: RunOptions): Promise<RunResult> {
  const dir = await mkdtemp(join(scratch, 'run-'));
  const session = options.session ?? join(dir, 'session');
  await mkdir(session, { recursive: true });
  const inputFile = join(dir, 'input');
  const outputFile = join(dir, 'output');
  await writeFile(inputFile, JSON.stringify(options.args ?? {}));
  await writeFile(outputFile, '');
  const values: Record<string, EnvValue> = {
    INPUT_FILE: inputFile,
    OUTPUT_FILE: outputFile,
    SESSION_FOLDER: session,
    SESSION_FILE: join(session, 'session_state.parquet'),
    HOST: 'http://127.0.0.1',
    PORT: options.port ?? 7654,
    API_PATH: '',
    ALGORITHM_METHOD: options.method,
    FUNCTION_ACTION: options.action,
    TASK_ID: 40 + ++runs,
    NODE_ID: NODE.id,
    ORGANIZATION_ID: NODE.organizationId,
    COLLABORATION_ID: NODE.collaborationId,
    ...(options.action === 'data_extraction'
      ? { DATABASE_URI: options.database?.uri ?? '', DATABASE_TYPE: options.database?.type ?? '' }
      : { USER_REQUESTED_DATAFRAMES: options.dataframes ?? '' }),
  };
  const encoded = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, encodeEnvValue(value)]));
  const image = sessionImage(python);
  const [command, ...args] = [...image.command, ...image.args];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...image.env, ...encoded, ...options.secret };
  const ran = await execFileAsync(command!, args, { env, cwd: dir }).then(
    ({ stdout, stderr }) => ({ exitCode: 0, stdout, stderr }),
    (error: { code?: unknown; stdout?: string; stderr?: string }) => ({
      exitCode: typeof error.code === 'number' ? error.code : -1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? String(error),
    }),
  );
  return { ...ran, output: await readFile(outputFile), outputFile };
}

/** A parquet file's rows, read with the virtualenv's pyarrow. */
async function parquetRows(file: string): Promise<Record<string, unknown>[]> {
  const script = 'import json, sys, pyarrow.parquet as pq; print(json.dumps(pq.read_table(sys.argv[1]).to_pylist()))';
  const { stdout } = await execFileAsync(python.python, ['-c', script, file], { env: { ...process.env, ...python.env } });
  return JSON.parse(stdout) as Record<string, unknown>[];
}

/** A session whose dataframe `name` is the extraction of PATIENTS_CSV, stored as the node stores it (§5.7). */
async function sessionWithPatients(name: string): Promise<string> {
  const dir = await mkdtemp(join(scratch, 'session-'));
  const csv = join(dir, 'patients.csv');
  await writeFile(csv, PATIENTS_CSV);
  const extraction = await runSession({ method: 'read_csv', action: 'data_extraction', database: { uri: csv, type: 'csv' } });
  if (extraction.exitCode !== 0) throw new Error(`read_csv failed: ${extraction.stdout}${extraction.stderr}`);
  const session = join(dir, 'session');
  await mkdir(session);
  await copyFile(extraction.outputFile, join(session, `${name}.parquet`));
  return session;
}

const json = (output: Buffer) => JSON.parse(output.toString('utf8')) as unknown;

test('the image runs the wrapper on the v6_session package', (t) => {
  const image = sessionImage({ python: '/opt/python/bin/python', env: { PYTHONPATH: '/opt/site-packages' } });
  t.is(V6_SESSION_IMAGE, 'v6-test/session:5');
  t.deepEqual(image.command, ['/opt/python/bin/python', '-c', 'from vantage6.algorithm.tools.wrap import wrap_algorithm; wrap_algorithm()']);
  t.like(image.env, { PKG_NAME: 'v6_session' });
  t.regex(image.env.PYTHONPATH!, /\/test\/algorithms\/:\/opt\/site-packages$/);
});

test('read_csv (data_extraction) writes the CSV database as a parquet table', async (t) => {
  const csv = join(scratch, 'extract.csv');
  await writeFile(csv, PATIENTS_CSV);
  const result = await runSession({ method: 'read_csv', action: 'data_extraction', database: { uri: csv, type: 'csv' } });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /wrapper for v6_session/);
  t.is(result.output.subarray(0, 4).toString('latin1'), 'PAR1');
  t.is(result.output.subarray(-4).toString('latin1'), 'PAR1');
  t.deepEqual(await parquetRows(result.outputFile), [
    { id: 1, age: 30, site: 'a' },
    { id: 2, age: null, site: 'b' },
    { id: 3, age: 40, site: 'a' },
    { id: 4, age: 50.5, site: 'b' },
  ]);
});

test('add_column (preprocessing) reads SESSION_FOLDER/<dataframe>.parquet and writes it with the new column', async (t) => {
  const session = await sessionWithPatients('patients');
  const result = await runSession({
    method: 'add_column',
    action: 'preprocessing',
    session,
    dataframes: 'patients',
    args: { column: 'age', factor: 12, new_column: 'age_months' },
  });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /Using '.*\/patients\.parquet' with dataframe name 'patients'/);
  const rows = await parquetRows(result.outputFile);
  t.deepEqual(rows.map((row) => row.age_months), [360, null, 480, 606]);
  t.deepEqual(Object.keys(rows[0]!), ['id', 'age', 'site', 'age_months']);
});

test('partial_sum (federated_compute) writes the sum and count of a dataframe column as JSON', async (t) => {
  const session = await sessionWithPatients('patients');
  const result = await runSession({ method: 'partial_sum', action: 'federated_compute', session, dataframes: 'patients', args: { column: 'age' } });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  t.deepEqual(json(result.output), AGES);
});

test('a function started as another action than its decorator says exits non-zero', async (t) => {
  const session = await sessionWithPatients('patients');
  const result = await runSession({ method: 'partial_sum', action: 'central_compute', session, dataframes: 'patients', args: { column: 'age' } });
  t.is(result.exitCode, 1);
  t.regex(result.stdout, /Container started as AlgorithmStepType\.CENTRAL_COMPUTE, but user requested AlgorithmStepType\.FEDERATED_COMPUTE/);
});

test('crash exits non-zero and logs its message and traceback', async (t) => {
  const result = await runSession({ method: 'crash', action: 'federated_compute', args: { message: 'boom on purpose' } });
  t.is(result.exitCode, 1);
  t.regex(result.stdout, /Error encountered while calling crash: boom on purpose/);
  t.regex(result.stderr, /Traceback \(most recent call last\):[\s\S]*AlgorithmCrash: boom on purpose/);
  t.is(result.output.length, 0);
});

test('sleep returns after the seconds asked', async (t) => {
  const result = await runSession({ method: 'sleep', action: 'federated_compute', args: { seconds: 0.2 } });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  t.deepEqual(json(result.output), { slept: 0.2 });
});

/** A container token as HQ signs it (§1.5): HS256, the identity an object in `sub`, no `exp`. */
function containerToken(databases: unknown): string {
  return signJwt(
    {
      sub: {
        vantage6_client_type: 'container',
        node_id: NODE.id,
        organization_id: NODE.organizationId,
        collaboration_id: NODE.collaborationId,
        study_id: null,
        store_id: null,
        session_id: 5,
        task_id: 40,
        image: V6_SESSION_IMAGE,
        databases,
      },
    },
    'a secret only HQ knows',
  );
}

test('average (central_compute) creates partial_sum on the token\'s dataframes through the proxy and combines the results', async (t) => {
  const proxy = await startFakeProxy({ collaborationId: NODE.collaborationId, results: new Map([[1, { sum: 120.5, count: 3 }], [2, { sum: 79.5, count: 2 }]]), taskId: 77 });
  t.teardown(() => proxy.close());
  const databases = [[{ label: 'patients', type: 'dataframe', dataframe_id: 9 }]];
  const token = containerToken(databases);
  const result = await runSession({
    method: 'average',
    action: 'central_compute',
    dataframes: 'patients',
    port: proxy.port,
    secret: { CONTAINER_TOKEN: token },
    args: { column: 'age' },
  });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  t.deepEqual(json(result.output), { average: 40, sum: 200, count: 5, organizations: 2 });

  const created = proxy.requests.find((r) => r.method === 'POST' && r.url === '/task');
  // The client sends base64 of Python's json.dumps of the arguments.
  const argumentsB64 = Buffer.from('{"column": "age"}').toString('base64');
  t.like(created?.body, {
    method: 'partial_sum',
    action: 'federated_compute',
    image: V6_SESSION_IMAGE,
    collaboration_id: NODE.collaborationId,
    session_id: 5,
    databases,
    organizations: [{ id: 1, arguments: argumentsB64 }, { id: 2, arguments: argumentsB64 }],
  });
  t.true(proxy.requests.every((r) => r.authorization === `Bearer ${token}`));
  t.true(proxy.requests.some((r) => r.url.startsWith('/organization?') && r.url.includes(`collaboration_id=${NODE.collaborationId}`)));
});

test('average without a container token exits non-zero', async (t) => {
  const result = await runSession({ method: 'average', action: 'central_compute', dataframes: 'patients', args: { column: 'age' } });
  t.is(result.exitCode, 1);
  t.regex(result.stdout, /Token not found/);
});

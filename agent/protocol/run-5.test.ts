// What the node reads from a 5 hub's run before it launches anything: its action, method, session
// and the dataframe it produces, and its arguments — each refusal with the status upstream gives
// and a log that says what is missing.
import test, { type ExecutionContext } from 'ava';
import { RunNotRunnableError } from '../errors.js';
import { decodeRunInput } from '../runs/run-input.js';
import type { ServerRun } from '../server/types.js';
import { DummyCryptor } from './encryption.js';
import { run5Of } from './run-5.js';
import { RunStatus } from './run-status.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

function run(overrides: Record<string, unknown> = {}, task: Record<string, unknown> = {}): ServerRun {
  return {
    id: 9,
    status: 'pending',
    started_at: null,
    finished_at: null,
    arguments: b64('{"column": "age"}'),
    action: 'preprocessing',
    task: {
      id: 3,
      image: 'v6/alg',
      job_id: 3,
      parent: null,
      init_org: { id: 1 },
      init_user: null,
      collaboration: { id: 1 },
      algorithm_store: null,
      databases: [],
      method: 'add_column',
      session: { id: 4 },
      dataframe: { id: 2, name: 'patients' },
      ...task,
    },
    ...overrides,
  } as ServerRun;
}

function refused(t: ExecutionContext, fn: () => unknown, status: string, message: RegExp): void {
  const error = t.throws(fn, { instanceOf: RunNotRunnableError });
  t.is(error.status, status);
  t.regex(error.message, message);
}

test('a run reads as its action, method, session and the dataframe it produces', (t) => {
  t.deepEqual(run5Of(run()), { action: 'preprocessing', method: 'add_column', sessionId: 4, dataframe: { id: 2, name: 'patients' } });
  t.deepEqual(run5Of(run({ action: 'federated_compute' }, { dataframe: null })), { action: 'federated_compute', method: 'add_column', sessionId: 4 });
});

test('a run the node cannot read is failed, saying what is missing', (t) => {
  refused(t, () => run5Of(run({ action: 'summarise' })), RunStatus.Failed, /^Unrecognized action summarise$/);
  refused(t, () => run5Of(run({}, { method: '' })), RunStatus.Failed, /names no method/);
  refused(t, () => run5Of(run({}, { session: null })), RunStatus.Failed, /belongs to no session/);
  refused(t, () => run5Of(run({ action: 'data_extraction' }, { dataframe: null })), RunStatus.Failed, /must name the dataframe it produces/);
  refused(t, () => run5Of(run({}, { dataframe: { id: 2, name: 'a/../../b' } })), RunStatus.Failed, /no usable dataframe name/);
});

test('5 arguments are a JSON object of keyword arguments; 4.x input is read from input', (t) => {
  const cryptor = new DummyCryptor();
  t.is(decodeRunInput(run(), cryptor, 5).toString(), '{"column": "age"}');
  refused(t, () => decodeRunInput(run({ arguments: b64('[1, 2]') }), cryptor, 5), RunStatus.Failed, /not a JSON object; vantage6 5 algorithms are called with keyword arguments/);
  refused(t, () => decodeRunInput(run({ arguments: b64('nope') }), cryptor, 5), RunStatus.Failed, /The run arguments are not JSON/);
  t.is(decodeRunInput(run({ input: b64('{"method": "m"}'), arguments: undefined }), cryptor, 4).toString(), '{"method": "m"}');
});

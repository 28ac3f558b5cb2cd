import test from 'ava';
import { RunStatus, hasRunFailed, hasRunFinished, isRunStatus } from './run-status.js';

test('the vantage6 4.x status strings, and the two a 5 node adds, exactly', (t) => {
  t.deepEqual(Object.values(RunStatus), [
    'pending',
    'initializing',
    'active',
    'completed',
    'failed',
    'start failed',
    'non-existing Docker image',
    'crashed',
    'killed by user',
    'not allowed',
    'unknown error',
    'dataframe not found',
    'unexpected output',
  ]);
});

test('failed and finished as has_task_failed / has_task_finished', (t) => {
  t.deepEqual(
    Object.values(RunStatus).map((s) => [s, hasRunFailed(s), hasRunFinished(s)]),
    [
      ['pending', false, false],
      ['initializing', false, false],
      ['active', false, false],
      ['completed', false, true],
      ['failed', true, true],
      ['start failed', true, true],
      ['non-existing Docker image', true, true],
      ['crashed', true, true],
      ['killed by user', true, true],
      ['not allowed', true, true],
      ['unknown error', true, true],
      ['dataframe not found', true, true],
      ['unexpected output', true, true],
    ],
  );
  t.deepEqual([isRunStatus('crashed'), isRunStatus('Crashed'), hasRunFailed('something new')], [true, false, true]);
});

import test from 'ava';
import type { V1Job } from '@kubernetes/client-node';
import type { RunInformer } from '../cluster/run-informer.js';
import { JobCapacity } from './capacity.js';

/** The informer's cache, as JobCapacity reads it. */
function cache(jobs: V1Job[]): RunInformer {
  return { allJobs: () => jobs } as unknown as RunInformer;
}

function job(name: string, runId: number | undefined, finished = false): V1Job {
  return {
    metadata: { name, labels: runId === undefined ? {} : { 'vantage6.ai/run-id': String(runId) } },
    status: finished ? { conditions: [{ type: 'Complete', status: 'True' }] } : {},
  };
}

test('launches that check at the same time cannot overshoot the cap: the check reserves the slot', (t) => {
  const capacity = new JobCapacity(cache([]), 2);
  t.deepEqual(['a', 'b', 'c'].map((name) => capacity.reserve(name)), [true, true, false]);
  capacity.release('a');
  t.true(capacity.reserve('c'));
});

test('the cache counts live run Jobs only: finished ones and the isolation probe free their slots', (t) => {
  const jobs = [job('run-1', 1), job('run-2', 2, true), job('probe', undefined)];
  const capacity = new JobCapacity(cache(jobs), 2);
  t.is(capacity.alive(), 1);
  t.true(capacity.reserve('run-3'));
  t.false(capacity.reserve('run-4'));
});

test('a reservation the informer has seen is counted once, and one never seen lapses', (t) => {
  let now = 0;
  const jobs: V1Job[] = [];
  const capacity = new JobCapacity(cache(jobs), 5, () => now);
  capacity.reserve('run-1');
  capacity.reserve('run-2');
  jobs.push(job('run-1', 1));
  t.is(capacity.alive(), 2);
  now += 5 * 60_000 + 1;
  t.is(capacity.alive(), 1);
});

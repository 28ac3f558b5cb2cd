import test from 'ava';
import { retryAfterMs, retryDelay, type RetryPolicy } from './retry.js';

const policy: RetryPolicy = { attempts: 3, baseMs: 100, maxMs: 1_000 };
const clock = { now: () => Date.parse('2025-01-01T12:00:00Z'), random: () => 1 };

test('only idempotent methods are retried, after a connection error or a 502/503/504', (t) => {
  for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
    t.is(retryDelay(policy, method, 1, { kind: 'connection-error' }, clock), 100, method);
    for (const status of [502, 503, 504]) t.is(retryDelay(policy, method, 1, { kind: 'response', status }, clock), 100);
    for (const status of [200, 400, 401, 404, 429, 500]) t.is(retryDelay(policy, method, 1, { kind: 'response', status }, clock), undefined);
  }
  for (const method of ['POST', 'PATCH']) {
    t.is(retryDelay(policy, method, 1, { kind: 'connection-error' }, clock), undefined, method);
    t.is(retryDelay(policy, method, 1, { kind: 'response', status: 503 }, clock), undefined, method);
  }
});

test('the backoff doubles up to the cap, and the attempts are bounded', (t) => {
  const big = { ...policy, attempts: 10 };
  t.deepEqual([1, 2, 3, 4, 5].map((attempt) => retryDelay(big, 'GET', attempt, { kind: 'connection-error' }, clock)), [100, 200, 400, 800, 1000]);
  t.is(retryDelay(policy, 'GET', 3, { kind: 'connection-error' }, clock), undefined);
});

test('Retry-After is honoured when it fits under the cap, and ends the retries when it does not', (t) => {
  const after = (retryAfter: string) => retryDelay(policy, 'GET', 1, { kind: 'response', status: 503, retryAfter }, clock);
  t.is(after('0'), 0);
  t.is(after('1'), 1_000);
  t.is(after('2'), undefined);
  t.is(after('Wed, 01 Jan 2025 12:00:00 GMT'), 0);
  t.is(after('Wed, 01 Jan 2025 12:00:01 GMT'), 1_000);
  t.is(after('Wed, 01 Jan 2025 12:01:00 GMT'), undefined);
  t.is(after('soon'), 100, 'unreadable: the usual backoff');
  t.is(retryAfterMs('Tue, 31 Dec 2024 23:00:00 GMT', clock.now()), 0, 'a date in the past');
  t.is(retryAfterMs(undefined, clock.now()), undefined);
});

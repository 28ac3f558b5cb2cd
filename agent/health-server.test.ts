import test from 'ava';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { EventLoopWatch, startHealthServer } from './health-server.js';

test('EventLoopWatch fails a check when the loop was late beyond the bound since the previous check, then recovers', (t) => {
  let now = 0;
  const watch = new EventLoopWatch({ intervalMs: 1_000, stuckAfterMs: 5_000, now: () => now, autoTick: false });
  now = 1_000;
  watch.tick();
  t.deepEqual(watch.check(), { ok: true, eventLoopLagSeconds: 0 });
  now = 9_000; // the timer fired 7 s late
  watch.tick();
  t.deepEqual(watch.check(), { ok: false, eventLoopLagSeconds: 7 });
  now = 10_000;
  watch.tick();
  t.is(watch.check().ok, true, 'a new window');
  now = 20_000; // no tick for 10 s: stuck right now
  t.is(watch.check().ok, false);
});

test('/readyz names the failing checks; /livez and /metrics answer; other paths are 404', async (t) => {
  const registry = new Registry();
  let checks = { redisReachable: true, clusterReachable: true };
  const server = await startHealthServer({ port: 0, host: '127.0.0.1', registry, readiness: async () => checks, logger: pino({ level: 'silent' }) });
  t.teardown(() => server.close());
  const get = async (path: string) => {
    const response = await fetch(`${server.url}${path}`);
    return { status: response.status, body: await response.text() };
  };
  t.deepEqual(await get('/readyz'), { status: 200, body: JSON.stringify({ status: 'ready', failing: [], checks }) });
  checks = { redisReachable: false, clusterReachable: true };
  t.deepEqual(JSON.parse((await get('/readyz')).body), { status: 'unready', failing: ['redisReachable'], checks });
  t.is((await get('/readyz')).status, 503);
  t.like(JSON.parse((await get('/livez')).body), { status: 'alive', ok: true });
  t.is((await get('/metrics')).status, 200);
  t.is((await get('/other')).status, 404);
  await server.close();
  await server.close();
});

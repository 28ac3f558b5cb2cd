import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { LiveTokens } from '../queue/live-tokens.js';
import { serverFor } from '../test/dev-server/testkit.js';
import { freePort } from '../test/support/ports.js';
import { startRedis } from '../test/support/redis.js';
import { runProxyCommand } from './main.js';

test('runProxyCommand serves the config file\'s server with the tokens the agent granted in Redis', async (t) => {
  const [server, redisServer, dir, port, metricsPort] = await Promise.all([
    serverFor(t),
    startRedis(),
    mkdtemp(join(tmpdir(), 'v6-proxy-')),
    freePort(),
    freePort(),
  ]);
  t.teardown(async () => {
    await redisServer.close();
    await rm(dir, { recursive: true, force: true });
  });
  const configPath = join(dir, 'node.yaml');
  await writeFile(
    configPath,
    [
      'api_key: 00000000-0000-4000-8000-000000000001',
      `server_url: ${server.url}`,
      `api_path: ${server.apiPath}`,
      'kubernetes: {task_volume: {claim_name: tasks}, node_name: worker-1}',
      `redis: {url: ${redisServer.url}}`,
      'queue: {prefix: main-test}',
      `proxy: {url: http://proxy, listen_port: ${port}}`,
      `metrics: {proxy_port: ${metricsPort}}`,
      'isolation: {probe: false}',
      'logging: {level: fatal}',
    ].join('\n'),
  );
  const redis = new Redis(redisServer.url);
  t.teardown(() => redis.disconnect());
  await new LiveTokens(redis, 'main-test').grant(1, 'granted-token');

  const proxy = await runProxyCommand(configPath, {});
  t.teardown(() => proxy.close());
  t.is(proxy.port, port);
  // The token is live, so the call reaches the server, which does not know it.
  const granted = await fetch(`${proxy.url}/task/1`, { headers: { authorization: 'Bearer granted-token' } });
  t.is(granted.status, 401);
  t.deepEqual(Object.keys((await granted.json()) as object), ['msg']);
  const other = await fetch(`${proxy.url}/task/1`, { headers: { authorization: 'Bearer other-token' } });
  t.regex(((await other.json()) as { msg: string }).msg, /not belong to a run active/);
  // Both answers are counted on the proxy's own metrics port, which algorithms cannot reach.
  t.is(proxy.metricsUrl, `http://127.0.0.1:${metricsPort}`);
  const metrics = await (await fetch(`${proxy.metricsUrl}/metrics`)).text();
  t.regex(metrics, /^v6_node_proxy_requests_total\{route="pass-through",status="401"\} 2$/m);
  t.regex(metrics, /^v6_node_proxy_received_bytes_total\{route="pass-through"\} [1-9]\d*$/m);
  t.regex(metrics, /^process_cpu_seconds_total /m);
  const ready = await fetch(`${proxy.metricsUrl}/readyz`);
  t.deepEqual(await ready.json(), { status: 'ready', failing: [], checks: { redisReachable: true } });
  t.is((await fetch(`${proxy.metricsUrl}/metrics`, { method: 'GET' })).status, 200);
  t.is((await fetch(`${proxy.url}/metrics`)).status, 401);
  await proxy.close();
  await proxy.close();
  await t.throwsAsync(fetch(`${proxy.url}/task/1`));
});

// The proxy of the proxy benchmark in a process of its own, run from the build (V6_BENCH_DIST,
// default dist/) as in the container image, so its RSS and CPU are the proxy's alone. It loads
// proxy/main.js first, as `v6-node proxy` does, so its modules are the real process's. Settings
// as JSON in V6_BENCH_PROXY ({ config, privateKeyPem, redisUrl, prefix }); sends { port } when
// listening; stops on SIGTERM.
import { Redis } from 'ioredis';
import { pino } from 'pino';

const dist = process.env.V6_BENCH_DIST_URL ?? new URL('../../dist', import.meta.url).href;
await import(`${dist}/proxy/main.js`);
const { RsaCryptor } = await import(`${dist}/agent/protocol/encryption.js`);
const { startProxy } = await import(`${dist}/proxy/proxy.js`);
const { LiveTokens } = await import(`${dist}/queue/live-tokens.js`);

const settings = JSON.parse(process.env.V6_BENCH_PROXY ?? '');
const redis = new Redis(settings.redisUrl);
const proxy = await startProxy({
  config: settings.config,
  logger: pino({ level: process.env.V6_BENCH_LOG ?? 'silent' }),
  cryptor: RsaCryptor.fromPem(settings.privateKeyPem),
  liveTokens: new LiveTokens(redis, settings.prefix),
  host: '127.0.0.1',
  listenPort: 0,
});
process.send?.({ port: proxy.port });
process.once('SIGTERM', () =>
  void proxy.close().then(() => {
    redis.disconnect();
    process.exit(0);
  }),
);

import test from 'ava';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../test/support/redis.js';
import { LiveTokens, tokenDigest } from './live-tokens.js';

let server: RedisServer;
let redis: Redis;
let counter = 0;

test.before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
test.after.always(async () => {
  redis.disconnect();
  await server.close();
});

function registry(options: { ttlSeconds?: number } = {}): { tokens: LiveTokens; prefix: string } {
  counter += 1;
  const prefix = `live-${process.pid}-${counter}`;
  return { tokens: new LiveTokens(redis, prefix, options), prefix };
}

test('a granted token names its run until the run is revoked', async (t) => {
  const { tokens } = registry();
  await tokens.grant(7, 'token-a');
  await tokens.grant(8, 'token-b');
  t.is(await tokens.runOf('token-a'), 7);
  t.is(await tokens.runOf('token-b'), 8);
  await tokens.revoke(7);
  t.is(await tokens.runOf('token-a'), undefined);
  t.is(await tokens.runOf('token-b'), 8);
  await tokens.revoke(7);
  t.is(await tokens.runOf('never-granted'), undefined);
});

test('a new grant for a run retires its earlier token', async (t) => {
  const { tokens } = registry();
  await tokens.grant(3, 'first');
  await tokens.grant(3, 'second');
  t.is(await tokens.runOf('first'), undefined);
  t.is(await tokens.runOf('second'), 3);
});

test('only digests are stored, with the TTL, under the prefix', async (t) => {
  const { tokens, prefix } = registry({ ttlSeconds: 1234 });
  await tokens.grant(5, 'secret-token');
  const keys = (await redis.keys(`${prefix}:*`)).sort();
  t.deepEqual(keys, [`${prefix}:live-run:5`, `${prefix}:live-token:${tokenDigest('secret-token')}`]);
  for (const key of keys) {
    t.false((await redis.get(key))?.includes('secret-token'));
    const ttl = await redis.ttl(key);
    t.true(ttl > 0 && ttl <= 1234);
  }
  await tokens.revoke(5);
  t.deepEqual(await redis.keys(`${prefix}:*`), []);
});

test('registries with different prefixes do not see each other', async (t) => {
  const a = registry().tokens;
  const b = registry().tokens;
  await a.grant(1, 'shared-token');
  t.is(await b.runOf('shared-token'), undefined);
});

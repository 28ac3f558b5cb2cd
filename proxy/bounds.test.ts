import test from 'ava';
import { ProxyBounds } from './bounds.js';
import { ProxyError } from './errors.js';

const busy = { instanceOf: ProxyError, message: /busy/ };

test('decryption slots: beyond the bound V6_PROXY_BUSY, a released slot is free again, releasing twice frees one', (t) => {
  const bounds = new ProxyBounds({ maxConcurrentDecryptions: 2, maxBytesInFlight: 10 });
  const first = bounds.decryption();
  bounds.decryption();
  const refused = t.throws(() => bounds.decryption(), busy);
  t.is(refused.code, 'V6_PROXY_BUSY');
  t.is(refused.status, 503);
  t.is(refused.retryAfterSeconds, 5);
  first();
  first();
  bounds.decryption();
  t.throws(() => bounds.decryption(), busy);
});

test('bytes in flight: holds add up across requests, a refused add takes nothing, release gives all back', (t) => {
  const bounds = new ProxyBounds({ maxConcurrentDecryptions: 1, maxBytesInFlight: 10 });
  const a = bounds.hold();
  const b = bounds.hold();
  a.add(6);
  t.throws(() => b.add(5), busy);
  b.add(4);
  t.throws(() => a.add(1), busy);
  a.release();
  a.release();
  b.add(6);
  t.throws(() => bounds.hold().add(1), busy);
});

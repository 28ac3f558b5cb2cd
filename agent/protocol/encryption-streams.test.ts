import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DummyCryptor, RsaCryptor, type Cryptor } from './encryption.js';

const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as {
  key_pairs: { id: string; private_key_pem: string; public_key_str: string }[];
};
const key1 = vectors.key_pairs[0] as { private_key_pem: string; public_key_str: string };

const PAYLOAD_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
/**
 * Live memory (V8 heap plus Buffers, after a collection) is the exact measure: a buffering
 * implementation would hold the 64 MiB payload. RSS also counts what the allocator keeps after
 * frees, so its bound is only generous: below the payload size.
 */
const MAX_LIVE_GROWTH_BYTES = 16 * 1024 * 1024;
const MAX_RSS_GROWTH_BYTES = PAYLOAD_BYTES;
/**
 * Collect garbage every this many bytes: without it V8 lets spent chunks pile up until external
 * memory pressure triggers a collection, and RSS measures V8's pacing instead of our buffering.
 */
const GC_EVERY_BYTES = 4 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The same random chunk over and over: cheap to produce, and CTR makes every ciphertext chunk differ. */
function payload(chunk: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < PAYLOAD_BYTES; sent += chunk.length) yield chunk;
    })(),
  );
}

for (const [name, cryptor] of [
  ['RsaCryptor', RsaCryptor.fromPem(key1.private_key_pem)],
  ['DummyCryptor', new DummyCryptor()],
] as [string, Cryptor][]) {
  test.serial(`${name}: 64 MiB through encryptStream and decryptStream in constant memory`, async (t) => {
    const chunk = randomBytes(CHUNK_BYTES);
    const expected = createHash('sha256');
    for (let sent = 0; sent < PAYLOAD_BYTES; sent += chunk.length) expected.update(chunk);

    const received = createHash('sha256');
    gc();
    const baseline = process.memoryUsage();
    const peak = { live: 0, rss: 0 };
    let sinceGc = 0;
    const sink = new Writable({
      write(data: Buffer, _encoding, callback) {
        received.update(data);
        sinceGc += data.length;
        if (sinceGc >= GC_EVERY_BYTES) {
          gc();
          sinceGc = 0;
          const now = process.memoryUsage();
          peak.live = Math.max(peak.live, live(now) - live(baseline));
          peak.rss = Math.max(peak.rss, now.rss - baseline.rss);
        }
        callback();
      },
    });
    await pipeline(payload(chunk), cryptor.encryptStream(key1.public_key_str), cryptor.decryptStream(), sink);

    t.is(received.digest('hex'), expected.digest('hex'));
    const grew = `live memory grew by ${mib(peak.live)}, RSS by ${mib(peak.rss)}`;
    t.log(grew);
    t.true(peak.live < MAX_LIVE_GROWTH_BYTES && peak.rss < MAX_RSS_GROWTH_BYTES, grew);
  });
}

function live(usage: NodeJS.MemoryUsage): number {
  return usage.heapUsed + usage.external;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

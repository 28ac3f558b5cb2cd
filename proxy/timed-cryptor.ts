/**
 * A Cryptor that reports how long each encryption and decryption takes: one observation per
 * call, and one per stream (the time spent in its transform, not the time waiting for data).
 */
import type { Transform, TransformCallback } from 'node:stream';
import type { Cryptor, DecryptStreamOptions } from '../agent/protocol/encryption.js';
import type { CryptoOperation } from '../queue/metrics/proxy-metrics.js';

export type CryptoTimer = (operation: CryptoOperation, seconds: number) => void;

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function timed<T>(operation: CryptoOperation, report: CryptoTimer, fn: () => T): T {
  const started = process.hrtime.bigint();
  try {
    return fn();
  } finally {
    report(operation, seconds(started));
  }
}

/** Adds up the time spent in a stream's `_transform` and `_flush`; reports it once, when the stream ends or is destroyed. */
function timedStream(operation: CryptoOperation, report: CryptoTimer, stream: Transform): Transform {
  let spent = 0n;
  let reported = false;
  const wrap = <A extends unknown[]>(fn: ((...args: A) => void) | undefined) =>
    fn === undefined
      ? undefined
      : (...args: A): void => {
          const started = process.hrtime.bigint();
          try {
            fn.apply(stream, args);
          } finally {
            spent += process.hrtime.bigint() - started;
          }
        };
  const transform = wrap<[unknown, BufferEncoding, TransformCallback]>(stream._transform);
  if (transform) stream._transform = transform;
  const flush = wrap<[TransformCallback]>(stream._flush);
  if (flush) stream._flush = flush;
  stream.once('close', () => {
    if (reported) return;
    reported = true;
    report(operation, Number(spent) / 1e9);
  });
  return stream;
}

export function timedCryptor(inner: Cryptor, report: CryptoTimer): Cryptor {
  return {
    encrypted: inner.encrypted,
    encryptBytesToStr: (data, key) => timed('encrypt', report, () => inner.encryptBytesToStr(data, key)),
    decryptStrToBytes: (message) => timed('decrypt', report, () => inner.decryptStrToBytes(message)),
    encryptBlob: (data, key) => timed('encrypt', report, () => inner.encryptBlob(data, key)),
    decryptBlob: (blob) => timed('decrypt', report, () => inner.decryptBlob(blob)),
    encryptStream: (key) => timedStream('encrypt', report, inner.encryptStream(key)),
    decryptStream: (options?: DecryptStreamOptions) => timedStream('decrypt', report, inner.decryptStream(options)),
    decryptStrStream: () => timedStream('decrypt', report, inner.decryptStrStream()),
  };
}

/**
 * Streaming forms of vantage6's encryption, for blob-store payloads of any size. Each transform
 * holds at most one header or one partial base64 quantum besides the chunk in hand, so memory
 * does not grow with the payload.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Cipheriv } from 'node:crypto';
import { DecryptionError } from './errors.js';
import { b64decode } from './python-codecs.js';
import { headerLength } from './hybrid.js';

/**
 * The longest header we wait for. vantage6's own is 710 bytes for a 4096-bit key (upstream reads
 * without a limit); a stream without two '$' in this many bytes is not a vantage6 message.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/** `header` first, then `cipher` applied to the input (`encrypt_stream`). */
export class HeaderThenCipherTransform extends Transform {
  readonly #cipher: Cipheriv;

  constructor(header: Buffer, cipher: Cipheriv) {
    super();
    this.#cipher = cipher;
    this.push(header);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, this.#cipher.update(chunk));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#cipher.final());
  }
}

/**
 * Reads the header up to the second '$', asks `open(headerText)` for the AES cipher, then
 * deciphers the rest (`decrypt_stream`). The header must be UTF-8, as upstream decodes it.
 */
export class HeaderThenDecipherTransform extends Transform {
  readonly #open: (header: Buffer) => Cipheriv;
  readonly #body: Base64Quads | undefined;
  #header: Buffer | undefined = Buffer.alloc(0);
  #cipher: Cipheriv | undefined;

  /**
   * With `body`, the bytes after the header are base64 decoded (in 4-byte groups) before they are
   * deciphered: the string form (`b64(sealed key)$b64(iv)$b64(ciphertext)`), as
   * `decrypt_str_to_bytes` reads it, when its ciphertext is canonical base64.
   */
  constructor(open: (header: Buffer) => Cipheriv, body?: Base64Quads) {
    super();
    this.#open = open;
    this.#body = body;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.#cipher !== undefined) return callback(null, this.#decipher(chunk));
      const pending = joined(this.#header ?? Buffer.alloc(0), chunk);
      const split = splitHeader(pending);
      if (split === undefined) {
        this.#header = pending;
        return callback();
      }
      this.#header = undefined;
      this.#cipher = this.#open(split.header);
      callback(null, this.#decipher(split.rest));
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.#cipher === undefined) {
      return callback(new DecryptionError('V6_PROTO_MESSAGE_MALFORMED', 'stream ended before the header was fully read'));
    }
    try {
      const tail = this.#body?.final();
      callback(null, tail === undefined ? this.#cipher.final() : Buffer.concat([this.#cipher.update(tail), this.#cipher.final()]));
    } catch (error) {
      callback(error as Error);
    }
  }

  #decipher(bytes: Buffer): Buffer | undefined {
    const data = this.#body === undefined ? bytes : this.#body.update(bytes);
    return data === undefined ? undefined : this.#cipher!.update(data);
  }
}

/** Base64 of the input, emitted in whole 3-byte groups (`CryptorBase.encrypt_stream`). */
export class Base64EncodeTransform extends Transform {
  #carry: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const pending = joined(this.#carry, chunk);
    const whole = pending.length - (pending.length % 3);
    this.#carry = pending.subarray(whole);
    callback(null, whole > 0 ? Buffer.from(pending.subarray(0, whole).toString('base64'), 'latin1') : undefined);
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#carry.length > 0 ? Buffer.from(this.#carry.toString('base64'), 'latin1') : undefined);
  }
}

/**
 * Python-lenient base64 decoding in 4-byte groups counted from the stream start, the last group
 * padded with '=' (`CryptorBase.decrypt_stream`). Well-formed base64 decodes the same however it
 * is chunked; for malformed input upstream's result depends on its read size, ours on the
 * incoming chunk sizes. Throws what `b64decode` throws.
 */
export class Base64Quads {
  #carry: Buffer = Buffer.alloc(0);

  update(chunk: Buffer): Buffer | undefined {
    const pending = joined(this.#carry, chunk);
    const whole = pending.length - (pending.length % 4);
    this.#carry = pending.subarray(whole);
    // As text, b64decode takes the native decoder for canonical base64 (bytes above 0x7f are
    // skipped either way, so latin1 changes nothing for the lenient rule).
    return whole > 0 ? b64decode(pending.toString('latin1', 0, whole)) : undefined;
  }

  final(): Buffer | undefined {
    if (this.#carry.length === 0) return undefined;
    return b64decode(Buffer.concat([this.#carry, Buffer.from('='.repeat(4 - this.#carry.length))]));
  }
}

/** `Base64Quads` as a stream (`CryptorBase.decrypt_stream`). */
export class Base64DecodeTransform extends Transform {
  readonly #quads = new Base64Quads();

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      callback(null, this.#quads.update(chunk));
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      callback(null, this.#quads.final());
    } catch (error) {
      callback(error as Error);
    }
  }
}

/** `carry` + `chunk`, without copying `chunk` when nothing is carried. */
function joined(carry: Buffer, chunk: Buffer): Buffer {
  return carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
}

/** The header (up to the second '$') and the bytes after it, once `pending` holds a whole header; a header past MAX_HEADER_BYTES throws. */
function splitHeader(pending: Buffer): { header: Buffer; rest: Buffer } | undefined {
  const end = headerLength(pending);
  if (end < 0) {
    if (pending.length > MAX_HEADER_BYTES) throw tooLong();
    return undefined;
  }
  if (end > MAX_HEADER_BYTES) throw tooLong();
  return { header: pending.subarray(0, end), rest: pending.subarray(end) };
}

function tooLong(): DecryptionError {
  return new DecryptionError('V6_PROTO_MESSAGE_MALFORMED', `no header in the first ${MAX_HEADER_BYTES} bytes of the stream`);
}

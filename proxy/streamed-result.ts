/**
 * `GET result/<id>` answered in constant memory (issue 13): the server's answer is spooled to a
 * temporary file while a scanner finds the top-level `"result"` string; the result is then
 * deciphered from the file as a stream into a second file, its plaintext checked as it passes
 * (UTF-8, and Python JSON for upstream's UI fallback), and the answer written with the result as
 * base64 of that file, sliced. Only the other fields of the run are parsed in memory.
 *
 * The answer is byte for byte what `decryptResult` and `writeJsonAnswer` give for the whole
 * body (results.ts): the result as base64 of its plaintext, or as stored when it cannot be
 * decrypted. Answers of another shape (no top-level result string, escapes in it or in a key,
 * base64 that is not canonical, `blob_storage_used`, or plaintext that is not Python JSON and so
 * goes through the UI's base64 fallback) are left to that whole-body path: `spooled.whole()`.
 */
import { isUtf8 } from 'node:buffer';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Cryptor } from '../agent/protocol/encryption.js';
import { ProtocolError } from '../agent/protocol/errors.js';
import { PythonJsonChecker } from '../agent/protocol/python-json-stream.js';
import { drainedOrClosed } from './json-answer.js';
import type { UndecryptedResult } from './results.js';

/** Where the top-level `"result"` string of a JSON object lies in its bytes, if it is simple enough to stream. */
export interface ResultSpan {
  /** Offset of the opening quote and just past the closing one. */
  readonly start: number;
  readonly end: number;
  /** Offsets of the value's '$' separators (at most three are kept). */
  readonly dollars: readonly number[];
  /** Whether the text after the last '$' (or the whole value) is canonical base64. */
  readonly canonicalTail: boolean;
}

const enum Scan {
  BeforeObject,
  Outside, // inside the top-level object, outside strings
  Str, // inside a string at depth > 1 or a top-level value string other than the result
  StrEscape,
  Key, // inside a top-level key
  AfterKey, // after a top-level key, before ':'
  BeforeValue, // after ':' of a top-level key
  Result, // inside the result string
  Done,
  Unsupported,
}

const B64 = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64[c.charCodeAt(0)] = 1;
const RESULT_KEY = Buffer.from('result');

/**
 * Finds the span of the top-level `"result"` string as bytes pass (pure state machine; the
 * bytes themselves are not kept). `span()` is undefined for an answer that must take the whole path.
 */
export class ResultScanner {
  #state = Scan.BeforeObject;
  #offset = 0;
  #depth = 0;
  #key: number[] = [];
  #keyIsResult = false;
  #found: { start: number; end: number; dollars: number[]; segment: number; pads: number; badPad: boolean } | undefined;
  #results = 0;

  /**
   * Scans the next bytes; with `value`, hands it each run of the chunk that lies inside the
   * result string (quotes excluded), in order, as subarrays of `chunk`.
   */
  update(chunk: Uint8Array, value?: (bytes: Uint8Array) => void): void {
    const n = chunk.length;
    let i = 0;
    let from = this.#state === Scan.Result ? 0 : -1;
    while (i < n) {
      if (this.#state === Scan.Unsupported) return;
      if (this.#state === Scan.Result) {
        // The result's base64 runs, byte by byte in one tight loop: most of a large answer.
        const from = i;
        while (i < n && B64[chunk[i]!] === 1) i++;
        if (i > from) {
          const found = this.#found!;
          found.segment += i - from;
          if (found.pads > 0) found.badPad = true;
          this.#offset += i - from;
          continue;
        }
      }
      const before = this.#state;
      this.#byte(chunk[i]!);
      if (before !== Scan.Result && this.#state === Scan.Result) from = i + 1;
      else if (before === Scan.Result && this.#state !== Scan.Result) {
        if (this.#state === Scan.Outside && i > from) value?.(chunk.subarray(from, i));
        from = -1;
      }
      i++;
      this.#offset++;
    }
    if (this.#state === Scan.Result && from >= 0 && from < n) value?.(chunk.subarray(from, n));
  }

  span(): ResultSpan | undefined {
    const found = this.#found;
    if (this.#state !== Scan.Done || found === undefined || this.#results !== 1) return undefined;
    return { start: found.start, end: found.end, dollars: found.dollars, canonicalTail: !found.badPad && found.pads <= 2 && found.segment % 4 === 0 };
  }

  #byte(c: number): void {
    const s = this.#state;
    if (s === Scan.Result) return this.#resultByte(c);
    if (s === Scan.Str) {
      if (c === 0x5c) this.#state = Scan.StrEscape;
      else if (c === 0x22) this.#state = Scan.Outside;
      return;
    }
    if (s === Scan.StrEscape) return void (this.#state = Scan.Str);
    if (s === Scan.Key) {
      if (c === 0x5c) return void (this.#state = Scan.Unsupported);
      if (c === 0x22) {
        this.#keyIsResult = RESULT_KEY.equals(Buffer.from(this.#key));
        this.#state = Scan.AfterKey;
      } else if (this.#key.length <= RESULT_KEY.length) this.#key.push(c);
      return;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) return;
    switch (s) {
      case Scan.BeforeObject:
        this.#state = c === 0x7b ? Scan.Outside : Scan.Unsupported;
        this.#depth = 1;
        this.#expectKey = true;
        return;
      case Scan.AfterKey:
        this.#state = c === 0x3a ? Scan.BeforeValue : Scan.Unsupported;
        return;
      case Scan.BeforeValue:
        this.#expectKey = false;
        if (this.#keyIsResult) {
          this.#results++;
          if (c === 0x22) {
            this.#found = { start: this.#offset, end: -1, dollars: [], segment: 0, pads: 0, badPad: false };
            return void (this.#state = Scan.Result);
          }
        }
        this.#state = Scan.Outside;
        return this.#outside(c);
      case Scan.Outside:
        return this.#outside(c);
      case Scan.Done:
        this.#state = Scan.Unsupported; // bytes after the object
        return;
    }
  }

  #expectKey = false;

  #outside(c: number): void {
    if (c === 0x22) {
      if (this.#depth === 1 && this.#expectKey) {
        this.#key = [];
        this.#state = Scan.Key;
      } else this.#state = Scan.Str;
      return;
    }
    if (c === 0x7b || c === 0x5b) this.#depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--this.#depth === 0) this.#state = Scan.Done;
    } else if (c === 0x2c && this.#depth === 1) this.#expectKey = true;
  }

  #resultByte(c: number): void {
    const found = this.#found!;
    if (c === 0x22) {
      found.end = this.#offset + 1;
      this.#state = Scan.Outside;
      return;
    }
    if (c === 0x24) {
      if (found.dollars.length < 3) found.dollars.push(this.#offset);
      found.segment = 0;
      found.pads = 0;
      found.badPad = false;
    } else if (c === 0x3d) {
      found.segment++;
      found.pads++;
    } else if (B64[c] === 1) {
      found.segment++;
      if (found.pads > 0) found.badPad = true;
    } else {
      this.#state = Scan.Unsupported; // escapes, whitespace, anything not base64
    }
  }
}

/** A server answer spooled to disk, its result deciphered on the way: stream it, or read the answer whole. */
export interface SpooledAnswer {
  /** The body, read whole: for answers the streamed path does not take. */
  whole(): Promise<Buffer>;
  readonly bytes: number;
  readonly span: ResultSpan | undefined;
  readonly dir: string;
  readonly file: string;
  /** The deciphered result (`plaintext` in `dir`): how it ended, and its checks. */
  readonly decryption: { readonly error: unknown; readonly checks: PlaintextChecks; readonly file: string };
  close(): Promise<void>;
}

/**
 * Writes `body` to a temporary file, scanning it, and deciphers the result string with `cryptor`
 * as it passes (into a second file), so receiving and decrypting overlap; `close()` removes both.
 * Whether the deciphered result is used is for `decryptSpooled` to say, once the whole answer is seen.
 */
export async function spool(body: Readable, cryptor: Cryptor, tmp = tmpdir()): Promise<SpooledAnswer> {
  const dir = await mkdtemp(join(tmp, 'v6-proxy-result-'));
  const file = join(dir, 'answer.json');
  const plaintext = join(dir, 'plaintext');
  const scanner = new ResultScanner();
  const checks = new PlaintextChecks(cryptor.encrypted);
  const input = new PassThrough({ highWaterMark: 64 * 1024 });
  const deciphered = pipeline(input, cryptor.decryptStrStream(), tap((chunk) => checks.update(chunk)), createWriteStream(plaintext)).then(
    () => undefined,
    (error: unknown) => error ?? new Error('decryption failed'),
  );
  let bytes = 0;
  const feed = async (segments: Uint8Array[]): Promise<void> => {
    for (const segment of segments) {
      if (input.destroyed) return;
      if (!input.write(segment)) await drainedOrClosed(input);
    }
  };
  try {
    await pipeline(
      body,
      new Transform({
        transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
          bytes += chunk.length;
          const segments: Uint8Array[] = [];
          scanner.update(chunk, (segment) => segments.push(segment));
          feed(segments).then(() => callback(null, chunk), callback);
        },
      }),
      createWriteStream(file),
    );
  } catch (error) {
    input.destroy();
    await deciphered;
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  input.end();
  const error = await deciphered;
  return { whole: () => readFile(file), bytes, span: scanner.span(), dir, file, decryption: { error, checks, file: plaintext }, close: () => rm(dir, { recursive: true, force: true }) };
}

/** What to write for a streamed result: JSON text around it, and its bytes as base64 or as stored. */
export interface StreamedResult {
  /** The run object with `result: null` (the other fields, parsed). */
  readonly item: Record<string, unknown>;
  /** The plaintext file to send as base64, or the stored value (quotes included) to send as it is. */
  readonly payload: { readonly kind: 'base64'; readonly file: string; readonly length: number } | { readonly kind: 'raw'; readonly file: string; readonly start: number; readonly end: number };
  readonly undecrypted: UndecryptedResult[];
}

/**
 * The streamed answer of a spooled run, its result deciphered (or passed on as stored when it
 * cannot be); undefined when the answer must take the whole path. `encrypted` is the cryptor's.
 * Throws only what is not a decryption error.
 */
export async function decryptSpooled(spooled: SpooledAnswer, encrypted: boolean): Promise<StreamedResult | undefined> {
  const span = spooled.span;
  if (span === undefined || !span.canonicalTail) return undefined;
  if (encrypted ? span.dollars.length !== 2 : span.dollars.length !== 0) return undefined;
  const item = await restOf(spooled.file, span, spooled.bytes);
  if (item === undefined || item.blob_storage_used) return undefined;
  const { error, checks, file } = spooled.decryption;
  const stored = { kind: 'raw', file: spooled.file, start: span.start, end: span.end } as const;
  if (error !== undefined) {
    if (!(error instanceof ProtocolError)) throw error;
    return { item, payload: stored, undecrypted: [{ id: item.id, code: error.code }] };
  }
  const verdict = checks.end();
  if (verdict === 'not-utf8') return { item, payload: stored, undecrypted: [{ id: item.id, code: 'V6_PROTO_PLAINTEXT_NOT_UTF8' }] };
  if (verdict === 'not-json') return undefined; // the UI's base64 fallback: whole path
  return { item, payload: { kind: 'base64', file, length: (await stat(file)).size }, undecrypted: [] };
}

/** The answer without its result value: the bytes before and after it, `null` between. */
async function restOf(file: string, span: ResultSpan, size: number): Promise<Record<string, unknown> | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(span.start);
    const tail = Buffer.alloc(size - span.end);
    await handle.read(head, 0, head.length, 0);
    await handle.read(tail, 0, tail.length, span.end);
    const parsed: unknown = JSON.parse(Buffer.concat([head, Buffer.from('null'), tail]).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** `decryptStrToBytes`'s checks on the plaintext (UTF-8, then Python JSON), as it passes; exported for tests. */
export class PlaintextChecks {
  readonly #json = new PythonJsonChecker();
  /** The bytes of a UTF-8 sequence cut by the chunk's end (at most 3). */
  #carry: Buffer = Buffer.alloc(0);
  #valid = true;

  constructor(private readonly active: boolean) {}

  update(chunk: Buffer): void {
    if (!this.active || !this.#valid) return;
    const pending = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk]);
    const cut = incompleteTail(pending);
    this.#carry = Buffer.from(pending.subarray(pending.length - cut));
    if (!isUtf8(pending.subarray(0, pending.length - cut))) {
      this.#valid = false;
      return;
    }
    this.#json.update(chunk);
  }

  end(): 'ok' | 'not-utf8' | 'not-json' {
    if (!this.active) return 'ok';
    if (!this.#valid || this.#carry.length > 0) return 'not-utf8';
    return this.#json.end() ? 'ok' : 'not-json';
  }
}

/** How many bytes at the end of `data` start a UTF-8 sequence that the bytes after it would complete (0 to 3). */
function incompleteTail(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const c = data[data.length - back]!;
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const needs = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return needs > back ? back : 0;
  }
  return 0;
}

function tap(see: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      see(chunk);
      callback(null, chunk);
    },
  });
}

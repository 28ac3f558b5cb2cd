/**
 * Writes a JSON answer whose `Base64Of` values (decrypted results) are base64-encoded slice by
 * slice as they are written, honouring backpressure: a 50 MB result never exists as one base64
 * string, nor the answer as one JSON text or Buffer. The rest of the body is `JSON.stringify`'s
 * output, so the bytes are what `JSON.stringify(body)` would give; `content-length` is exact.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Base64Of } from './results.js';
import type { StreamedResult } from './streamed-result.js';

/** Plaintext bytes per written slice: a multiple of 3, so the slices' base64 joins up. */
const SLICE_BYTES = 3 * 256 * 1024;
/** Plaintext bytes per slice read from a file: 64 KiB of base64. */
const STREAM_SLICE_BYTES = 3 * 16 * 1024;

export async function writeJsonAnswer(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: unknown): Promise<void> {
  const marker = `v6-base64-${randomUUID()}`;
  const payloads: Buffer[] = [];
  const text = JSON.stringify(body, (_key, value: unknown) => {
    if (!(value instanceof Base64Of)) return value;
    payloads.push(value.data);
    return marker;
  });
  // Each payload stands as "marker" (quotes included) in the text; a marker is a fresh UUID.
  const parts = text.split(`"${marker}"`).map((part) => Buffer.from(part));
  let length = parts.reduce((sum, part) => sum + part.length, 0);
  for (const data of payloads) length += 2 + 4 * Math.ceil(data.length / 3);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': length });
  for (let k = 0; k < parts.length; k++) {
    if (!(await write(res, parts[k]!))) return;
    const data = payloads[k];
    if (data === undefined) continue;
    if (!(await write(res, '"'))) return;
    for (let offset = 0; offset < data.length; offset += SLICE_BYTES) {
      if (!(await write(res, data.toString('base64', offset, Math.min(data.length, offset + SLICE_BYTES))))) return;
    }
    if (!(await write(res, '"'))) return;
  }
  res.end();
}

/**
 * Writes a run whose result was decrypted to a file (streamed-result.ts): the same bytes as
 * `writeJsonAnswer` of the run with the result as `Base64Of` its plaintext (or as stored), the
 * result read from its file in slices.
 */
export async function writeStreamedAnswer(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, streamed: StreamedResult): Promise<void> {
  const marker = `v6-result-${randomUUID()}`;
  const [before, after] = JSON.stringify({ ...streamed.item, result: marker }).split(`"${marker}"`).map((part) => Buffer.from(part)) as [Buffer, Buffer];
  const payload = streamed.payload;
  const payloadLength = payload.kind === 'base64' ? 2 + 4 * Math.ceil(payload.length / 3) : payload.end - payload.start;
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': before.length + payloadLength + after.length });
  if (!(await write(res, before))) return;
  if (payload.kind === 'raw') {
    if (payload.end > payload.start) {
      for await (const chunk of createReadStream(payload.file, { start: payload.start, end: payload.end - 1, highWaterMark: SLICE_BYTES }) as AsyncIterable<Buffer>) {
        if (!(await write(res, chunk))) return;
      }
    }
  } else {
    if (!(await write(res, '"'))) return;
    let carry = Buffer.alloc(0);
    // Slices under V8's large-object size (128 KiB of base64), so their strings die young.
    for await (const chunk of createReadStream(payload.file, { highWaterMark: STREAM_SLICE_BYTES }) as AsyncIterable<Buffer>) {
      const pending = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      const whole = pending.length - (pending.length % 3);
      carry = Buffer.from(pending.subarray(whole));
      if (whole > 0 && !(await write(res, pending.toString('base64', 0, whole)))) return;
    }
    if (carry.length > 0 && !(await write(res, carry.toString('base64')))) return;
    if (!(await write(res, '"'))) return;
  }
  if (!(await write(res, after))) return;
  res.end();
}

/** Writes `chunk` (latin1 for strings: only base64 and quotes are strings here); false once the answer is gone. */
async function write(res: ServerResponse, chunk: Buffer | string): Promise<boolean> {
  if (res.destroyed) return false;
  if (typeof chunk === 'string' ? res.write(chunk, 'latin1') : res.write(chunk)) return true;
  await drainedOrClosed(res);
  return !res.destroyed;
}

/** Resolves on the stream's next 'drain' or its 'close', whichever comes first. */
export function drainedOrClosed(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

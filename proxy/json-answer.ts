/**
 * Writes a JSON answer whose `Base64Of` values (decrypted results) are base64-encoded slice by
 * slice as they are written, honouring backpressure: a 50 MB result never exists as one base64
 * string, nor the answer as one JSON text or Buffer. The rest of the body is `JSON.stringify`'s
 * output, so the bytes are what `JSON.stringify(body)` would give; `content-length` is exact.
 */
import { randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Base64Of } from './results.js';

/** Plaintext bytes per written slice: a multiple of 3, so the slices' base64 joins up. */
const SLICE_BYTES = 3 * 256 * 1024;

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

/** Writes `chunk` (latin1 for strings: only base64 and quotes are strings here); false once the answer is gone. */
async function write(res: ServerResponse, chunk: Buffer | string): Promise<boolean> {
  if (res.destroyed) return false;
  if (typeof chunk === 'string' ? res.write(chunk, 'latin1') : res.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
  return !res.destroyed;
}

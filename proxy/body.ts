/**
 * Request bodies under the proxy's size limit (`proxy.max_body_bytes`): read whole for the
 * routes that rewrite them, or counted on the fly for those that stream.
 */
import type { IncomingMessage } from 'node:http';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import type { BytesHold } from './bounds.js';
import { ProxyError } from './errors.js';

function tooLarge(maxBytes: number): ProxyError {
  return new ProxyError('V6_PROXY_BODY_TOO_LARGE', `The request body is larger than the node allows (${maxBytes} bytes)`);
}

/** Refuses at once a request whose declared length is over the limit. */
export function checkDeclaredLength(req: IncomingMessage, maxBytes: number): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
}

/**
 * The whole body; a 413 `ProxyError` as soon as it passes `maxBytes`. Its bytes count against
 * `hold` (the proxy's bytes in flight) as they arrive.
 */
export async function readBody(req: IncomingMessage, maxBytes: number, hold: BytesHold): Promise<Buffer> {
  checkDeclaredLength(req, maxBytes);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > maxBytes) throw tooLarge(maxBytes);
    hold.add(chunk.length);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

/**
 * A streamed body cut off with a 413 `ProxyError` past `maxBytes`, through `transform` if one is
 * given. `guard` runs the call that reads it: when the body failed, the body's error is what the
 * call fails with (the server must not act on a truncated request).
 */
export function limitedStream(req: IncomingMessage, maxBytes: number, transform?: Transform): { stream: Readable; guard<T>(call: Promise<T>): Promise<T> } {
  let bodyError: unknown;
  const done = (error: NodeJS.ErrnoException | null): void => {
    bodyError = error ?? undefined;
  };
  const stream = transform === undefined ? pipeline(req, new ByteLimit(maxBytes), done) : pipeline(req, new ByteLimit(maxBytes), transform, done);
  return {
    stream,
    guard: async (call) => {
      try {
        return await call;
      } catch (error) {
        throw bodyError instanceof ProxyError ? bodyError : error;
      }
    },
  };
}

/** Passes bytes through, failing with a 413 `ProxyError` once more than `maxBytes` went by. */
export class ByteLimit extends Transform {
  readonly #maxBytes: number;
  #seen = 0;

  constructor(maxBytes: number) {
    super();
    this.#maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    callback(this.#seen > this.#maxBytes ? tooLarge(this.#maxBytes) : null, chunk);
  }
}

/** A JSON object body; a 400 `ProxyError` for anything else. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProxyError('V6_PROXY_BAD_JSON', 'The request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProxyError('V6_PROXY_BAD_JSON', 'The request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/**
 * Everything without a route of its own goes to the server as it came, streamed both ways, to
 * the URL `routes.ts` fixed, through the same `Upstream` (undici) as the proxy's own calls.
 * Idempotent calls have their (small, bounded) body held so they can be tried again after a
 * connection error or a 502/503/504; other calls stream their body through once and are never
 * repeated. Only the container token and the body's type and length cross (headers.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { BytesHold } from './bounds.js';
import { checkDeclaredLength, limitedStream, readBody } from './body.js';
import { responseHeaders } from './headers.js';
import { isIdempotent } from './retry.js';
import type { Upstream } from './upstream.js';

/** Relays `req` to `url` and the answer back; resolves with the status the algorithm got. */
export async function passThrough(
  upstream: Upstream,
  call: { token: string; maxBodyBytes: number; hold: BytesHold },
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<number> {
  const method = req.method ?? 'GET';
  const contentType = req.headers['content-type'];
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  let response;
  if (isIdempotent(method)) {
    const held = hasBody ? await readBody(req, call.maxBodyBytes, call.hold) : undefined;
    response = await upstream.open(method, url, { token: call.token, contentType, ...(held === undefined ? {} : { body: held }) });
  } else if (!hasBody) {
    response = await upstream.open(method, url, { token: call.token, contentType });
  } else {
    checkDeclaredLength(req, call.maxBodyBytes);
    const declared = req.headers['content-length'];
    const body = limitedStream(req, call.maxBodyBytes);
    response = await body.guard(
      upstream.open(method, url, { token: call.token, contentType, body: body.stream, contentLength: declared === undefined ? undefined : Number(declared) }),
    );
  }
  // The algorithm hanging up destroys `res`, which ends the pipeline and aborts the server call.
  res.writeHead(response.statusCode, responseHeaders(response.headers, false));
  await pipeline(response.body, res);
  return response.statusCode;
}

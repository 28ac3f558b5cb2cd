/** Which headers cross the proxy, each way. Pure. */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Request headers that reach the server: the container token and the body's framing, nothing else. */
const FORWARDED_REQUEST_HEADERS = new Set(['authorization', 'content-type', 'content-length', 'transfer-encoding', 'host']);

export function isForwardedRequestHeader(name: string): boolean {
  return FORWARDED_REQUEST_HEADERS.has(name.toLowerCase());
}

/** Connection-level headers (RFC 9110 §7.6.1) that never cross a proxy. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Describe the body of a rewritten response, so it loses the upstream body's length and encoding. */
const BODY_DESCRIBING = new Set(['content-length', 'content-encoding', 'content-md5', 'etag']);

/**
 * The server's response headers as the algorithm gets them: without hop-by-hop headers, and
 * when the proxy rewrote the body, without those describing the old one.
 */
export function responseHeaders(upstream: IncomingHttpHeaders | Record<string, string | string[] | undefined>, bodyRewritten: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || (bodyRewritten && BODY_DESCRIBING.has(lower))) continue;
    out[lower] = value;
  }
  return out;
}

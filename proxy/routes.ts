/**
 * Which proxy route an algorithm's request takes (spec A10) and where it goes upstream. Pure.
 *
 * The upstream is always `<server base>/<path>?<query>` of the configured server: absolute-form
 * targets, `//host` paths, backslashes, and `.`/`..` segments and `/` or `\` inside a segment in
 * any percent-encoding (`%2F`, `%252F`, …) are refused, so neither the proxy nor a front end that
 * decodes paths once more (nginx, a Java servlet's `..;`) can be made to call anything else.
 */
import { ProxyError } from './errors.js';

export type Route =
  | { readonly kind: 'create-task' }
  | { readonly kind: 'results' }
  | { readonly kind: 'result'; readonly id: number }
  | { readonly kind: 'blob-download' }
  | { readonly kind: 'blob-upload' }
  | { readonly kind: 'pass-through' };

export interface ResolvedRequest {
  readonly route: Route;
  /** The request path, for logs (no query: it is the algorithm's business). */
  readonly path: string;
  /** The server URL to call. */
  readonly upstream: URL;
}

/** Methods the algorithm client uses; anything else has no route. */
const PASS_THROUGH_METHODS = new Set(['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE']);

/** `method` and the request-target `target` (as `IncomingMessage.url`) against the server's REST base URL. */
export function resolveRequest(method: string, target: string, serverBase: string): ResolvedRequest {
  if (!target.startsWith('/') || target.startsWith('//')) {
    throw new ProxyError('V6_PROXY_BAD_REQUEST', 'Only paths are accepted: the proxy forwards to its own vantage6 server');
  }
  const queryAt = target.indexOf('?');
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  const search = queryAt < 0 ? '' : target.slice(queryAt);
  const segments = path.slice(1).split('/');
  if (segments.some((segment) => !isPlainSegment(segment))) {
    throw new ProxyError(
      'V6_PROXY_BAD_REQUEST',
      'Paths with . or .. segments, encoded slashes or backslashes, or malformed percent-encoding are not accepted',
    );
  }
  const route = routeOf(method, segments, new URLSearchParams(search));
  return { route, path, upstream: upstreamUrl(serverBase, path, search) };
}

function routeOf(method: string, segments: string[], query: URLSearchParams): Route {
  const [resource, id, ...rest] = segments;
  const one = rest.length === 0;
  if (method === 'POST' && resource === 'task' && id === undefined) return { kind: 'create-task' };
  if (method === 'GET' && resource === 'result' && id === undefined) {
    if (!query.has('task_id')) throw new ProxyError('V6_PROXY_BAD_REQUEST', 'task_id missing from the query');
    return { kind: 'results' };
  }
  if (method === 'GET' && resource === 'result' && id !== undefined && one) {
    if (!/^[0-9]+$/.test(id)) throw noRoute(method, segments);
    return { kind: 'result', id: Number(id) };
  }
  if (method === 'GET' && resource === 'blobstream' && id !== undefined && id !== 'status' && one) return { kind: 'blob-download' };
  if (method === 'POST' && resource === 'blobstream' && id === undefined) return { kind: 'blob-upload' };
  if (PASS_THROUGH_METHODS.has(method) && resource !== undefined && resource !== '') return { kind: 'pass-through' };
  throw noRoute(method, segments);
}

function upstreamUrl(serverBase: string, path: string, search: string): URL {
  const base = new URL(serverBase);
  const url = new URL(`${serverBase.replace(/\/+$/, '')}${path}${search}`);
  const basePath = base.pathname.replace(/\/+$/, '');
  if (url.origin !== base.origin || !url.pathname.startsWith(`${basePath}/`)) {
    throw new ProxyError('V6_PROXY_BAD_REQUEST', 'The path does not stay below the server API');
  }
  return url;
}

/** How often a segment is decoded to look for what a later decoder would find. */
const DECODINGS = 4;

/**
 * A segment that means itself however often it is decoded: never `.` or `..` (nor `..;…`, which
 * servlet containers read as `..`), never holding `/` or `\`, and well-formed percent-encoding.
 */
function isPlainSegment(segment: string): boolean {
  let decoded = segment;
  for (let round = 0; round <= DECODINGS; round += 1) {
    if (/[/\\]/.test(decoded) || /^\.\.?(;.*)?$/.test(decoded)) return false;
    if (!decoded.includes('%')) return true;
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      return false;
    }
  }
  return false;
}

function noRoute(method: string, segments: string[]): ProxyError {
  return new ProxyError('V6_PROXY_NOT_FOUND', `No route for ${method} /${segments.join('/')}`);
}

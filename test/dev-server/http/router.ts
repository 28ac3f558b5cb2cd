// A small method + path router for the REST API, with Flask-like 404/405 answers and body helpers.
import type { IncomingMessage } from 'node:http';

/** An answer that a handler throws to stop early (e.g. a 401 from the access checks). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
    this.name = 'HttpError';
  }
}

export function msg(status: number, text: string): HttpError {
  return new HttpError(status, { msg: text });
}

export interface Reply {
  status: number;
  /** JSON-serialised unless it is a Buffer (sent as application/octet-stream). */
  body: unknown;
  headers?: Record<string, string>;
}

export interface ApiRequest {
  method: string;
  /** Path parameters: `:id` (an integer) or `:key` (any segment). */
  params: Record<string, string>;
  query: URLSearchParams;
  /** The request path including the API prefix, e.g. `/api/run` (for pagination links). */
  path: string;
  raw: IncomingMessage;
  bytes(): Promise<Buffer>;
  /** The JSON body, or null when absent or not JSON (Flask's `get_json(silent=True)`). */
  json(): Promise<unknown>;
}

export type Handler = (request: ApiRequest) => Promise<Reply> | Reply;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

export type RouteMatch = { handler: Handler; params: Record<string, string> } | { error: 404 | 405 };

export const NOT_FOUND_BODY = {
  message:
    'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.',
};
/** What vantage6's error handler answers for an unexpected exception (500). */
export const INTERNAL_ERROR_BODY = { msg: 'An unexpected error occurred on the server!' };
export const METHOD_NOT_ALLOWED_BODY = { message: 'The method is not allowed for the requested URL.' };

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: pattern.split('/'), handler });
    return this;
  }

  /** Matches a path relative to the API prefix, e.g. `run/5`. */
  match(method: string, path: string): RouteMatch {
    const segments = path.split('/').filter((s) => s !== '');
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method) return { handler: route.handler, params };
    }
    return { error: pathMatched ? 405 : 404 };
  }
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of pattern.entries()) {
    const segment = segments[i] ?? '';
    if (part === ':id') {
      if (!/^\d+$/.test(segment)) return undefined;
      params.id = segment;
    } else if (part.startsWith(':')) {
      params[part.slice(1)] = decodeURIComponent(segment);
    } else if (part !== segment) {
      return undefined;
    }
  }
  return params;
}

export function readBytes(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) return null;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

/** The `:id` path parameter as a number. */
export function idParam(request: ApiRequest): number {
  return Number(request.params.id);
}

/** A JSON object body, or the marshmallow-style 400 the server answers for anything else. */
export async function objectBody(request: ApiRequest): Promise<Record<string, unknown>> {
  const body = await request.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, { msg: 'Request body is incorrect', errors: { _schema: ['Invalid input type.'] } });
  }
  return body as Record<string, unknown>;
}

// The node:http request listener for the API: prefix, faults, routing, errors → JSON answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Faults } from './faults.js';
import {
  HttpError, INTERNAL_ERROR_BODY, METHOD_NOT_ALLOWED_BODY, NOT_FOUND_BODY, parseJson, readBytes,
  type ApiRequest, type Reply, type Router,
} from './router.js';

const GARBAGE = '<html><body><h1>502 Bad Gateway</h1></body></html>';

function send(res: ServerResponse, reply: Reply): void {
  const isBinary = Buffer.isBuffer(reply.body);
  const payload = isBinary ? (reply.body as Buffer) : Buffer.from(JSON.stringify(reply.body));
  res.writeHead(reply.status, {
    'content-type': isBinary ? 'application/octet-stream' : 'application/json',
    'content-length': String(payload.length),
    ...reply.headers,
  });
  res.end(payload);
}

function toRequest(req: IncomingMessage, url: URL, params: Record<string, string>): ApiRequest {
  let bytes: Promise<Buffer> | undefined;
  const readOnce = (): Promise<Buffer> => (bytes ??= readBytes(req));
  return {
    method: req.method ?? 'GET',
    params,
    query: url.searchParams,
    path: url.pathname,
    raw: req,
    bytes: readOnce,
    json: async () => parseJson(await readOnce()),
  };
}

async function answer(req: IncomingMessage, router: Router, apiPath: string, faults: Faults): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://dev-server');
  if (url.pathname !== apiPath && !url.pathname.startsWith(`${apiPath}/`)) return { status: 404, body: NOT_FOUND_BODY };
  const fault = faults.draw();
  if (fault === 'unavailable') return { status: 503, body: { msg: 'Service Unavailable' } };
  if (fault === 'garbage_json') return { status: 200, body: Buffer.from(GARBAGE), headers: { 'content-type': 'text/html' } };
  const match = router.match(req.method ?? 'GET', url.pathname.slice(apiPath.length));
  if ('error' in match) return { status: match.error, body: match.error === 404 ? NOT_FOUND_BODY : METHOD_NOT_ALLOWED_BODY };
  try {
    return await match.handler(toRequest(req, url, match.params));
  } catch (error) {
    if (error instanceof HttpError) return { status: error.status, body: error.body };
    console.error('dev-server: unhandled error', error);
    return { status: 500, body: INTERNAL_ERROR_BODY };
  }
}

export function createApiListener(router: Router, apiPath: string, faults: Faults) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void answer(req, router, apiPath, faults).then((reply) => {
      req.resume();
      send(res, reply);
    });
  };
}

// A stand-in for the node's proxy as a central function sees it (spec A10), enough for
// `central_average` to run to its end in a container: an unencrypted collaboration whose
// organizations all complete the subtask with the results given. It records every request, so
// a test can check what the algorithm asked for, and answers as the agent's proxy would (results
// as base64 of the JSON the partial function wrote).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The path and query, e.g. `/result?task_id=99&page=1`. */
  url: string;
  authorization: string | undefined;
  body: unknown;
}

export interface FakeProxy {
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface FakeProxyOptions {
  collaborationId: number;
  /** The collaboration's organizations and what each one's partial run returns. */
  results: ReadonlyMap<number, unknown>;
  /** The id the subtask gets. */
  taskId?: number;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');

function answer(options: FakeProxyOptions, method: string, url: URL): { status: number; body: unknown } {
  const taskId = options.taskId ?? 99;
  const page = (data: unknown[]) => ({ data, links: { first: url.pathname, self: url.pathname, next: null } });
  const orgs = [...options.results.keys()];
  const path = url.pathname;
  if (method === 'GET' && path === `/collaboration/${options.collaborationId}`) {
    return { status: 200, body: { id: options.collaborationId, name: 'fake collaboration', encrypted: false } };
  }
  if (method === 'GET' && path === '/organization') return { status: 200, body: page(orgs.map((id) => ({ id, name: `org-${id}` }))) };
  const org = /^\/organization\/(\d+)$/.exec(path);
  if (method === 'GET' && org !== null) return { status: 200, body: { id: Number(org[1]), public_key: '' } };
  if (method === 'GET' && path === '/blobstream/status') return { status: 200, body: { blob_store_enabled: false } };
  if (method === 'POST' && path === '/task') return { status: 201, body: { id: taskId, name: 'partial_average' } };
  if (method === 'GET' && path === `/task/${taskId}/status`) return { status: 200, body: { id: taskId, status: 'completed' } };
  if (method === 'GET' && path === '/result' && url.searchParams.get('task_id') === String(taskId)) {
    return { status: 200, body: page(orgs.map((id, i) => ({ id: i + 1, result: b64(options.results.get(id)), blob_storage_used: false }))) };
  }
  return { status: 404, body: { msg: `the fake proxy does not answer ${method} ${path}` } };
}

/** Listens on a free port of 127.0.0.1. */
export async function startFakeProxy(options: FakeProxyOptions): Promise<FakeProxy> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body: text === '' ? undefined : (JSON.parse(text) as unknown) });
      const { status, body } = answer(options, req.method ?? '', new URL(req.url ?? '/', 'http://fake-proxy'));
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let closed: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      (closed ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

// A counting relay in front of the test cluster's API server, so the benchmark can say how many
// Kubernetes API requests each node made without restarting the API server with an audit log.
// Pods are pointed at it with KUBERNETES_SERVICE_HOST/PORT (what in-cluster clients, Python's and
// client-node's, read). It terminates TLS with the API server's own certificate (its names include
// the bridge address, and pods trust the cluster CA), and relays every request to the API server
// with the client's own bearer token, so the API server authenticates and authorizes as before.
// Each request is counted by the service account the token names (its `sub` claim; the API
// server verifies the token, the relay only reads it) and by verb and resource.
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { API_PORT, NODE_IP, paths } from '../cluster/lib/config.js';

export interface RelayCounts {
  /** Requests by Kubernetes user (`system:serviceaccount:<namespace>:<name>`). */
  readonly requests: ReadonlyMap<string, number>;
  /** Per user, requests by `<verb> <resource>` (verbs as the API server's audit log names them). */
  readonly byVerb: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export interface KubeApiRelay {
  /** Where pods reach it: the bridge address and its port. */
  readonly host: string;
  readonly port: number;
  /** The counts so far (a copy). */
  counts(): RelayCounts;
  close(): Promise<void>;
}

/** The user a bearer token names, read from its payload without verifying it (the API server does). */
export function tokenUser(authorization: string | undefined): string {
  const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
  const payload = token?.split('.')[1];
  if (payload === undefined) return 'anonymous';
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The audit log's verb and resource of a request path: `/api/v1/namespaces/ns/pods/x/log` is
 * `get pods/log`; a GET of a collection is `list`, or `watch` with `watch=true`.
 */
export function verbOf(method: string, url: string): string {
  const { pathname, searchParams } = new URL(url, 'https://relay');
  const parts = pathname.split('/').filter((p) => p !== '');
  // /api/v1/... or /apis/<group>/<version>/...
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const scoped = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  const [resource = '', name, subresource] = scoped;
  const kind = subresource === undefined ? resource : `${resource}/${subresource}`;
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name === undefined ? 'deletecollection' : 'delete' };
  // Python's client sends watch=True, client-node watch=true.
  const watch = ['true', '1'].includes(searchParams.get('watch')?.toLowerCase() ?? '');
  const verb = method === 'GET' ? (watch ? 'watch' : name === undefined ? 'list' : 'get') : (verbs[method] ?? method.toLowerCase());
  return `${verb} ${kind}`;
}

/** Starts the relay on the bridge address and a free port. */
export async function startKubeApiRelay(): Promise<KubeApiRelay> {
  const requests = new Map<string, number>();
  const byVerb = new Map<string, Map<string, number>>();
  const upstream = new Agent({ keepAlive: true, ca: readFileSync(join(paths.pki, 'ca.crt')) });
  const server = createServer({ cert: readFileSync(join(paths.pki, 'apiserver.crt')), key: readFileSync(join(paths.pki, 'apiserver.key')) }, (req, res) => {
    const user = tokenUser(req.headers.authorization);
    requests.set(user, (requests.get(user) ?? 0) + 1);
    const verbs = byVerb.get(user) ?? new Map<string, number>();
    byVerb.set(user, verbs);
    const verb = verbOf(req.method ?? 'GET', req.url ?? '/');
    verbs.set(verb, (verbs.get(verb) ?? 0) + 1);
    const relayed = request(
      { host: NODE_IP, port: API_PORT, method: req.method, path: req.url, headers: { ...req.headers, host: `${NODE_IP}:${API_PORT}` }, agent: upstream },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    relayed.on('error', () => res.destroy());
    // A client that goes away (a watch stopped) ends its relayed request too.
    res.on('close', () => {
      if (!res.writableFinished) relayed.destroy();
    });
    req.pipe(relayed);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, NODE_IP, resolve);
  });
  return {
    host: NODE_IP,
    port: (server.address() as AddressInfo).port,
    counts: () => ({ requests: new Map(requests), byVerb: new Map([...byVerb].map(([user, verbs]) => [user, new Map(verbs)])) }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstream.destroy();
    },
  };
}

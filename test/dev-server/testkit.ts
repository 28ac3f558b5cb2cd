// Shared helpers for the dev-server tests: a server per test, raw API calls, node sockets.
import type { ExecutionContext } from 'ava';
import { io, type Socket } from 'socket.io-client';
import { startDevServer, type DevServer, type DevServerOptions } from './index.js';
import { plainInput, UserClient } from './user-client.js';

export async function serverFor(t: ExecutionContext, options: DevServerOptions = {}): Promise<DevServer> {
  const server = await startDevServer(options);
  t.teardown(() => server.close());
  return server;
}

/** A clock tests move by hand. */
export function manualClock(start = Date.parse('2025-01-01T12:00:00.000Z')): { now: () => Date; advance(seconds: number): void } {
  let current = start;
  return { now: () => new Date(current), advance: (seconds) => { current += seconds * 1000; } };
}

export interface ApiAnswer {
  status: number;
  body: unknown;
  headers: Headers;
}

export async function api(server: DevServer, method: string, path: string, token?: string, body?: unknown): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}${server.apiPath}/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // left as text: a test looks at it
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export async function nodeToken(server: DevServer, nodeId: number): Promise<string> {
  const node = server.fixtures.nodes.find((n) => n.id === nodeId);
  const answer = await api(server, 'POST', 'token/node', undefined, { api_key: node?.api_key });
  return (answer.body as { access_token: string }).access_token;
}

export async function researcher(server: DevServer, userId = 1): Promise<UserClient> {
  const user = server.fixtures.users.find((u) => u.id === userId);
  const client = new UserClient(`${server.url}${server.apiPath}`);
  await client.login(user?.username ?? '', user?.password ?? '');
  return client;
}

/** A task in the unencrypted collaboration 1 for the given organizations. */
export function plainTask(client: UserClient, organizationIds: number[] = [1, 2]) {
  return client.createTask({
    collaborationId: 1,
    image: 'harbor2.vantage6.ai/demo/average',
    organizations: organizationIds.map((id) => ({ id, input: plainInput({ method: 'avg', kwargs: {} }) })),
    databases: [{ label: 'default', query: 'SELECT 1' }],
  });
}

export function nodeSocket(t: ExecutionContext, server: DevServer, token: string): Socket {
  const socket = io(`${server.url}/tasks`, { extraHeaders: { Authorization: `Bearer ${token}` }, reconnection: false });
  t.teardown(() => socket.close());
  return socket;
}

export function nextEvent<T = unknown>(socket: Socket, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (data: T) => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

/** Resolves once `predicate` holds, checking every 20 ms. */
export async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// One conversation of a node and a researcher with a vantage6 server, recorded so that two
// servers can be compared: every answer's status and the shape of its body (keys and JSON types,
// with the messages verbatim), and the socket events the node hears. Ids, names and times differ
// between servers and are left out.
import { io } from 'socket.io-client';
import type { Fixtures } from '../dev-server/state/fixtures.js';
import { plainInput, UserClient } from '../dev-server/user-client.js';
import type { V6Server } from '../support/world.js';

/** Keys whose values are compared verbatim rather than by type: the server's words. */
const VERBATIM = new Set(['msg', 'errors', 'status', 'type', 'client_type', 'encrypted', 'blob_store_enabled', 'parameters']);

/** The shape of a JSON value: objects by sorted key, arrays by their first item, leaves by type, timestamps by format. */
export function shapeOf(value: unknown, key = ''): unknown {
  if (VERBATIM.has(key) && (typeof value !== 'object' || key === 'errors')) return value;
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (value === null) return null;
  // Timestamps by their format (digits as 9), which the node must parse.
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) return value.replace(/\d/g, '9');
  if (typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shapeOf((value as Record<string, unknown>)[k], k)]));
  }
  return typeof value;
}

interface Answer {
  status: number;
  body: unknown;
}

async function call(base: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: text };
  }
}

function claims(jwt: string): unknown {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Names and ids in socket messages, so that two servers' messages compare. */
function normalizeEvent(name: string, args: unknown[], fixtures: Fixtures): unknown {
  if (name === 'message' && typeof args[0] === 'string') {
    const node = fixtures.nodes[0]!;
    return [name, args[0].replace(node.name, 'NODE').replace(/_\d+/g, '_ID')];
  }
  return [name, ...args.map((a) => shapeOf(a))];
}

/**
 * The conversation: node login (bad keys too), refresh, what the node reads at start, a socket,
 * a task of the researcher, the node's PATCHes (bad timestamps, bad status, the final one, one
 * after it), streamed log lines, container tokens, results, a kill and a PATCH of the killed run, and a status change
 * the node emits. Uses the first node and the first user of `server.fixtures`.
 */
export async function converse(server: V6Server): Promise<Record<string, unknown>> {
  const base = `${server.url}${server.apiPath}`;
  const node = server.fixtures.nodes[0]!;
  const user = server.fixtures.users[0]!;
  const image = 'v6-test/algorithms:1';
  const record: Record<string, unknown> = {};
  const keep = (step: string, answer: Answer) => {
    record[step] = { status: answer.status, body: shapeOf(answer.body) };
    return answer.body as Record<string, unknown>;
  };

  keep('login with an unknown key', await call(base, undefined, 'POST', 'token/node', { api_key: '00000000-0000-4000-8000-0000000000ff' }));
  keep('login with a non-UUID key', await call(base, undefined, 'POST', 'token/node', { api_key: 'nope' }));
  const login = keep('login', await call(base, undefined, 'POST', 'token/node', { api_key: node.api_key }));
  const token = login.access_token as string;
  record['access token claims'] = shapeOf(claims(token));
  keep('refresh', await call(server.url, login.refresh_token as string, 'POST', String(login.refresh_url).slice(1)));
  keep('GET node', await call(base, token, 'GET', `node/${node.id}`));
  keep('GET organization', await call(base, token, 'GET', `organization/${node.organization_id}`));
  keep('GET collaboration', await call(base, token, 'GET', `collaboration/${node.collaboration_id}`));

  const events: unknown[] = [];
  const socket = io(`${server.url}/tasks`, { extraHeaders: { Authorization: `Bearer ${token}` }, transports: ['websocket'] });
  socket.onAny((name: string, ...args: unknown[]) => events.push(normalizeEvent(name, args, server.fixtures)));
  try {
    await sleep(1000);
    const researcher = new UserClient(base);
    await researcher.login(user.username, user.password);
    const organizations = [{ id: node.organization_id, input: plainInput({ method: 'echo' }) }];
    const task = await researcher.createTask({ collaborationId: node.collaboration_id, organizations, image, databases: [{ label: 'default', query: 'q' }] });
    record['POST task'] = shapeOf(task);
    await sleep(500);
    const open = keep('GET open runs', await call(base, token, 'GET', `run?state=open&node_id=${node.id}&include=task&task_id=${task.id}`));
    const runId = ((open.data as { id: number }[])[0] as { id: number }).id;
    const patchRun = async (step: string, body: unknown) => keep(step, await call(base, token, 'PATCH', `run/${runId}`, body));
    await patchRun('PATCH started_at from toISOString()', { started_at: new Date().toISOString() });
    await patchRun('PATCH started_at without fractions', { started_at: '2026-01-01T00:00:00+00:00' });
    await patchRun('PATCH started_at and status', { started_at: '2026-01-01T00:00:00.123456+00:00', status: 'active' });
    await patchRun('PATCH an unknown status', { status: 'nonsense' });
    await patchRun('PATCH nothing', {});
    for (const log of ['first line', 'second line']) {
      socket.emit('algorithm_log', { collaboration_id: node.collaboration_id, run_id: runId, task_id: task.id, log });
    }
    await sleep(500);
    const logged = await call(base, token, 'GET', `run/${runId}`);
    record['run log after two algorithm_log events'] = (logged.body as { log: unknown }).log;
    keep('container token for another image', await call(base, token, 'POST', 'token/container', { task_id: task.id, image: 'other' }));
    const container = keep('container token', await call(base, token, 'POST', 'token/container', { task_id: task.id, image }));
    record['container token claims'] = shapeOf(claims(container.container_token as string));
    await patchRun('PATCH the final result', { result: plainInput({ ok: 1 }), log: 'done', status: 'completed', finished_at: '2026-01-01T00:00:01.000000+00:00' });
    await patchRun('PATCH after the final one', { status: 'completed' });
    keep('container token of a finished task', await call(base, token, 'POST', 'token/container', { task_id: task.id, image }));
    keep('GET result as the container', await call(base, container.container_token as string, 'GET', `result?task_id=${task.id}`));
    record['GET task as the researcher'] = shapeOf(await researcher.getTask(task.id));
    keep('GET blobstream/status', await call(base, token, 'GET', 'blobstream/status'));

    const sleeper = await researcher.createTask({ collaborationId: node.collaboration_id, organizations, image, databases: [{ label: 'default' }] });
    await sleep(500);
    const sleeperRuns = await call(base, token, 'GET', `run?state=open&node_id=${node.id}&task_id=${sleeper.id}`);
    const sleeperRun = ((sleeperRuns.body as { data: { id: number }[] }).data[0] as { id: number }).id;
    await call(base, token, 'PATCH', `run/${sleeperRun}`, { started_at: '2026-01-01T00:00:00.123456+00:00', status: 'active' });
    record['kill task'] = shapeOf(await researcher.kill(sleeper.id));
    await sleep(500);
    keep('GET the killed run', await call(base, token, 'GET', `run/${sleeperRun}`));
    keep('PATCH the killed run', await call(base, token, 'PATCH', `run/${sleeperRun}`, { status: 'killed by user' }));
    socket.emit('algorithm_status_change', {
      node_id: node.id, status: 'active', run_id: runId, task_id: task.id,
      collaboration_id: node.collaboration_id, organization_id: node.organization_id, parent_id: null,
    });
    await sleep(1000);
  } finally {
    socket.close();
  }
  record['socket events heard by the node'] = events;
  return record;
}

// The proxy against the development vantage6 server and a real Redis, over real HTTP.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { DummyCryptor, RsaCryptor, type Cryptor } from '../agent/protocol/encryption.js';
import { LiveTokens } from '../queue/live-tokens.js';
import type { DevServer, DevServerOptions } from '../test/dev-server/index.js';
import { api, nodeToken, researcher, serverFor } from '../test/dev-server/testkit.js';
import { plainInput } from '../test/dev-server/user-client.js';
import { startRedis, type RedisServer } from '../test/support/redis.js';
import { startProxy, type RunningProxy } from './proxy.js';

const logger = pino({ level: 'silent' });
const IMAGE = 'harbor2.vantage6.ai/demo/average';
const MAX_BODY_BYTES = 8192;
const PROXY_CONFIG = { url: 'http://proxy', port: 7654, listen_port: 0, max_body_bytes: MAX_BODY_BYTES, max_concurrent_decryptions: 1, max_bytes_in_flight: 16 << 20 };

interface KeyPair {
  private_key_pem: string;
  public_key_str: string;
}
const vectors = JSON.parse(readFileSync(new URL('../test/fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as { key_pairs: KeyPair[] };
/** Organization 1 (Alpha) and 2 (Beta) keys. */
const [ALPHA, BETA] = vectors.key_pairs.map((pair) => ({ cryptor: RsaCryptor.fromPem(pair.private_key_pem), publicKey: pair.public_key_str })) as [
  { cryptor: RsaCryptor; publicKey: string },
  { cryptor: RsaCryptor; publicKey: string },
];

let redisServer: RedisServer;
let redis: Redis;
let prefixes = 0;

test.before(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
});
test.after.always(async () => {
  redis.disconnect();
  await redisServer.close();
});

interface Setup {
  server: DevServer;
  proxy: RunningProxy;
  liveTokens: LiveTokens;
  /** A parent task in the collaboration, running at organization 1. */
  parent: { taskId: number; runId: number; token: string };
}

/** A dev server, a proxy for organization 1's node in collaboration 1 (plain) or 2 (encrypted), and a live container token. */
async function setup(t: ExecutionContext, options: { encrypted?: boolean; server?: DevServerOptions; proxy?: Partial<typeof PROXY_CONFIG> } = {}): Promise<Setup> {
  const encrypted = options.encrypted ?? false;
  const server = await serverFor(t, options.server ?? {});
  const [alphaNode, betaNode] = encrypted ? [3, 4] : [1, 2];
  if (encrypted) {
    await api(server, 'PATCH', 'organization/1', await nodeToken(server, alphaNode), { public_key: ALPHA.publicKey });
    await api(server, 'PATCH', 'organization/2', await nodeToken(server, betaNode), { public_key: BETA.publicKey });
  }
  const cryptor: Cryptor = encrypted ? ALPHA.cryptor : new DummyCryptor();
  const input = Buffer.from(JSON.stringify({ method: 'central', kwargs: {} }));
  const user = await researcher(server);
  const task = await user.createTask({
    collaborationId: encrypted ? 2 : 1,
    image: IMAGE,
    organizations: [{ id: 1, input: cryptor.encryptBytesToStr(input, ALPHA.publicKey) }],
    databases: [{ label: 'default' }],
  });
  const [run] = await user.getRuns(task.id);
  const answer = await api(server, 'POST', 'token/container', await nodeToken(server, alphaNode), { task_id: task.id, image: IMAGE });
  const token = (answer.body as { container_token: string }).container_token;

  prefixes += 1;
  const liveTokens = new LiveTokens(redis, `proxy-test-${process.pid}-${prefixes}`);
  await liveTokens.grant(run!.id, token);
  const proxy = await startProxy({
    config: {
      server_url: server.url,
      port: undefined,
      api_path: server.apiPath,
      proxy: { ...PROXY_CONFIG, ...options.proxy },
    },
    logger,
    liveTokens,
    cryptor,
    host: '127.0.0.1',
    retry: { attempts: 3, baseMs: 1, maxMs: 20 },
  });
  t.teardown(() => proxy.close());
  return { server, proxy, liveTokens, parent: { taskId: task.id, runId: run!.id, token } };
}

interface Answer {
  status: number;
  body: unknown;
}

async function call(proxy: RunningProxy, method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${proxy.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // a test looks at the text
  }
  return { status: response.status, body: parsed };
}

/** A raw request, for targets fetch() would normalise. */
function rawCall(proxy: RunningProxy, path: string, token: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: proxy.port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function subtaskBody(collaborationId: number, organizationIds: number[], value: unknown): Record<string, unknown> {
  return {
    name: 'partial',
    image: IMAGE,
    collaboration_id: collaborationId,
    organizations: organizationIds.map((id) => ({ id, input: plainInput(value) })),
    databases: [{ label: 'default' }],
  };
}

/** Sets a run's result as its node would. */
async function patchResult(server: DevServer, nodeId: number, runId: number, result: string): Promise<void> {
  const answer = await api(server, 'PATCH', `run/${runId}`, await nodeToken(server, nodeId), { result });
  if (answer.status !== 200) throw new Error(`PATCH run/${runId} answered ${answer.status}`);
}

for (const encrypted of [false, true]) {
  test(`${encrypted ? 'encrypted' : 'unencrypted'} subtasks: inputs reach each organization, results come back as base64 plaintext`, async (t) => {
    const { server, proxy, parent } = await setup(t, { encrypted });
    const input = { method: 'partial', kwargs: { column: 'age' } };
    const created = await call(proxy, 'POST', '/task', parent.token, subtaskBody(encrypted ? 2 : 1, [1, 2], input));
    t.is(created.status, 201);
    const subtask = created.body as { id: number; parent: { id: number } };
    t.is(subtask.parent.id, parent.taskId);

    const runs = [...server.state.runs.values()].filter((run) => run.task_id === subtask.id);
    t.deepEqual(runs.map((run) => run.organization_id).sort(), [1, 2]);
    for (const run of runs) {
      const reader = encrypted ? (run.organization_id === 1 ? ALPHA : BETA).cryptor : new DummyCryptor();
      t.deepEqual(JSON.parse(reader.decryptStrToBytes(run.input).toString('utf8')), input);
      if (encrypted) t.notRegex(run.input, /^[A-Za-z0-9+/=]+$/, 'stored encrypted, not as base64 only');
    }

    // The subtask's init org is organization 1: its nodes encrypt their results for it.
    const writer = encrypted ? ALPHA.cryptor : new DummyCryptor();
    const nodeOf = (orgId: number) => (encrypted ? 2 : 0) + orgId;
    for (const run of runs) {
      const result = Buffer.from(JSON.stringify({ org: run.organization_id, sum: 10 * run.organization_id }));
      await patchResult(server, nodeOf(run.organization_id), run.id, writer.encryptBytesToStr(result, ALPHA.publicKey));
    }

    const page = await call(proxy, 'GET', `/result?task_id=${subtask.id}`, parent.token);
    t.is(page.status, 200);
    const items = (page.body as { data: { id: number; result: string }[] }).data;
    t.deepEqual(
      items.map((item) => JSON.parse(Buffer.from(item.result, 'base64').toString('utf8'))).sort((a, b) => a.org - b.org),
      [{ org: 1, sum: 10 }, { org: 2, sum: 20 }],
    );
    const single = await call(proxy, 'GET', `/result/${runs[1]!.id}`, parent.token);
    t.is(single.status, 200);
    t.deepEqual(JSON.parse(Buffer.from((single.body as { result: string }).result, 'base64').toString('utf8')), {
      org: runs[1]!.organization_id,
      sum: 10 * runs[1]!.organization_id,
    });
  });
}

test('only the token of a live run gets through: revoked, foreign, forged and missing tokens get 401', async (t) => {
  const { server, proxy, liveTokens, parent } = await setup(t);
  t.is((await call(proxy, 'GET', `/task/${parent.taskId}`, parent.token)).status, 200);

  // A real container token for the same task that the agent never granted (another node's, say).
  const foreign = await api(server, 'POST', 'token/container', await nodeToken(server, 1), { task_id: parent.taskId, image: IMAGE });
  const foreignToken = (foreign.body as { container_token: string }).container_token;
  const [header, payload] = parent.token.split('.');
  const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;

  for (const token of [foreignToken, forged, undefined]) {
    const answer = await call(proxy, 'GET', `/task/${parent.taskId}`, token);
    t.is(answer.status, 401);
    t.is(typeof (answer.body as { msg: unknown }).msg, 'string');
  }

  await liveTokens.revoke(parent.runId);
  const stale = await call(proxy, 'POST', '/task', parent.token, subtaskBody(1, [1], {}));
  t.is(stale.status, 401);
  t.regex((stale.body as { msg: string }).msg, /not belong to a run active/);
  t.false([...server.state.tasks.values()].some((task) => task.parent_id === parent.taskId));
});

test('bodies over the limit get 413, malformed JSON 400, routes the proxy does not have 404', async (t) => {
  const { proxy, parent } = await setup(t);
  const big = subtaskBody(1, [1], { padding: 'x'.repeat(MAX_BODY_BYTES) });
  for (const path of ['/task', '/run']) {
    const answer = await call(proxy, 'POST', path, parent.token, big);
    t.is(answer.status, 413, path);
    t.regex((answer.body as { msg: string }).msg, /larger than/);
  }
  const malformed = await call(proxy, 'POST', '/task', parent.token, '{"organizations": [');
  t.is(malformed.status, 400);
  t.deepEqual(malformed.body, { msg: 'The request body is not valid JSON' });
  t.deepEqual((await call(proxy, 'POST', '/task', parent.token, { name: 'no orgs' })).body, { msg: 'Organizations missing from input' });

  for (const [method, path] of [['GET', '/'], ['OPTIONS', '/task'], ['GET', '/result/abc']] as const) {
    const answer = await call(proxy, method, path, parent.token);
    t.is(answer.status, 404, `${method} ${path}`);
    t.is(typeof (answer.body as { msg: unknown }).msg, 'string');
  }
});

test('the proxy calls only its own server: absolute URLs and dot segments are refused', async (t) => {
  const { proxy, parent } = await setup(t);
  for (const target of ['http://127.0.0.1:1/api/task/1', '//evil.example/api', '/%2e%2e/task/1', '/task/../../x']) {
    const answer = await rawCall(proxy, target, parent.token);
    t.is(answer.status, 400, target);
  }
});

test('server errors reach the algorithm unchanged: 400, 401, 404 and 500', async (t) => {
  const { server, proxy, liveTokens, parent } = await setup(t);
  const cases: Array<{ method: string; path: string; token: string; body?: unknown }> = [
    { method: 'POST', path: 'task', token: parent.token, body: subtaskBody(1, [99], {}) },
    { method: 'PATCH', path: 'organization/1', token: parent.token, body: { name: 'renamed' } },
    { method: 'GET', path: 'task/9999', token: parent.token },
  ];
  // Only a node token reaches PATCH run, where a bad datetime makes the server fail with 500;
  // the proxy forwards any live token, so one is granted here for the test.
  const node = await nodeToken(server, 1);
  await liveTokens.grant(1_000_000, node);
  cases.push({ method: 'PATCH', path: `run/${parent.runId}`, token: node, body: { started_at: '2025-01-01T00:00:00Z' } });

  const statuses = [];
  for (const { method, path, token, body } of cases) {
    const through = await call(proxy, method, `/${path}`, token, body);
    const direct = await api(server, method, path, token, body);
    t.deepEqual(through, { status: direct.status, body: direct.body }, `${method} ${path}`);
    statuses.push(through.status);
  }
  t.deepEqual(statuses, [400, 401, 404, 500]);
});

test('a server that is down gives a clear 502, and the proxy recovers when it is back', async (t) => {
  const { server, proxy, parent } = await setup(t);
  await server.suspend();
  for (const [method, path, body] of [['GET', `/task/${parent.taskId}`], ['POST', '/task', subtaskBody(1, [1], {})], ['GET', `/result?task_id=${parent.taskId}`]] as const) {
    const answer = await call(proxy, method, path, parent.token, body);
    t.is(answer.status, 502, `${method} ${path}`);
    t.regex((answer.body as { msg: string }).msg, /vantage6 server cannot be reached \(ECONNREFUSED\)/);
  }
  await server.resume();
  t.is((await call(proxy, 'GET', `/task/${parent.taskId}`, parent.token)).status, 200);
});

test('503s are retried for GET but never for POST', async (t) => {
  // Each API request draws once from `random`; 0 means a 503.
  const script: number[] = [];
  let draws = 0;
  const random = () => {
    draws += 1;
    return script.shift() ?? 0.99;
  };
  const { server, proxy, parent } = await setup(t, { server: { random } });
  server.faults.set({ unavailableRate: 0.5 });
  const countDraws = async (values: number[], work: () => Promise<Answer>) => {
    script.splice(0, script.length, ...values);
    draws = 0;
    return { answer: await work(), draws };
  };

  const get = await countDraws([0, 0], () => call(proxy, 'GET', `/task/${parent.taskId}`, parent.token));
  t.is(get.answer.status, 200);
  t.is(get.draws, 3);

  const exhausted = await countDraws([0, 0, 0], () => call(proxy, 'GET', `/task/${parent.taskId}`, parent.token));
  t.deepEqual(exhausted, { answer: { status: 503, body: { msg: 'Service Unavailable' } }, draws: 3 });

  const post = await countDraws([0], () => call(proxy, 'POST', '/port', parent.token, { port: 1 }));
  t.deepEqual(post, { answer: { status: 503, body: { msg: 'Service Unavailable' } }, draws: 1 });

  // POST /task: the collaboration lookup (GET) succeeds, the POST itself meets the 503 once.
  const tasksBefore = server.state.tasks.size;
  const subtask = await countDraws([0.99, 0], () => call(proxy, 'POST', '/task', parent.token, subtaskBody(1, [1], {})));
  t.deepEqual(subtask, { answer: { status: 503, body: { msg: 'Service Unavailable' } }, draws: 2 });
  t.is(server.state.tasks.size, tasksBefore);
});

test('blobstream: uploads are encrypted for X-Public-Key, downloads decrypted with the node key', async (t) => {
  const { server, proxy, parent } = await setup(t, { encrypted: true, server: { blobStoreEnabled: true } });
  const payload = Buffer.alloc(MAX_BODY_BYTES - 100, 'result bytes ');
  const upload = async (headers: Record<string, string>) =>
    fetch(`${proxy.url}/blobstream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${parent.token}`, 'content-type': 'application/octet-stream', ...headers },
      body: payload,
    });

  const missing = await upload({});
  t.is(missing.status, 400);
  t.deepEqual(await missing.json(), { msg: 'Missing X-Public-Key header' });

  const stored = await upload({ 'x-public-key': ALPHA.publicKey });
  t.is(stored.status, 201);
  const { uuid } = (await stored.json()) as { uuid: string };
  const blob = server.state.blobs.get(uuid)!;
  t.false(blob.includes(Buffer.from('result bytes')));
  t.deepEqual(ALPHA.cryptor.decryptBlob(blob), payload);

  const download = await fetch(`${proxy.url}/blobstream/${uuid}`, { headers: { authorization: `Bearer ${parent.token}` } });
  t.is(download.status, 200);
  t.deepEqual(Buffer.from(await download.arrayBuffer()), payload);
});

test('a streamed body that grows past the limit is cut off with 413 and never reaches the server', async (t) => {
  const { server, proxy, parent } = await setup(t);
  const patchesBefore = server.state.patches.length;
  const chunks = async function* () {
    for (let i = 0; i < 8; i++) yield Buffer.alloc(2048, 'a');
  };
  const response = await fetch(`${proxy.url}/run/${parent.runId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${parent.token}`, 'content-type': 'application/json' },
    body: ReadableStream.from(chunks()),
    duplex: 'half',
  } as RequestInit);
  t.is(response.status, 413);
  t.regex(((await response.json()) as { msg: string }).msg, /larger than/);
  t.is(server.state.patches.length, patchesBefore);
});

test('when the live tokens cannot be read, the algorithm gets 503', async (t) => {
  const server = await serverFor(t);
  const unreachable = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  t.teardown(() => unreachable.disconnect());
  const proxy = await startProxy({
    config: { server_url: server.url, port: undefined, api_path: server.apiPath, proxy: PROXY_CONFIG },
    logger,
    liveTokens: new LiveTokens(unreachable, 'proxy-test-down'),
    cryptor: new DummyCryptor(),
    host: '127.0.0.1',
  });
  t.teardown(() => proxy.close());
  const answer = await call(proxy, 'GET', '/task/1', 'any-token');
  t.is(answer.status, 503);
  t.regex((answer.body as { msg: string }).msg, /cannot check container tokens/);
});

test('an answer larger than the bytes the proxy may hold gets 503 with Retry-After; smaller ones go on', async (t) => {
  const { server, proxy, parent } = await setup(t, { proxy: { max_bytes_in_flight: 64 * 1024 } });
  await patchResult(server, 1, parent.runId, Buffer.alloc(64 * 1024, 'r').toString('base64'));
  // A page of results is decrypted whole, so it counts against the bytes in flight.
  const response = await fetch(`${proxy.url}/result?task_id=${parent.taskId}`, { headers: { authorization: `Bearer ${parent.token}` } });
  t.is(response.status, 503);
  t.is(response.headers.get('retry-after'), '5');
  t.regex(((await response.json()) as { msg: string }).msg, /busy .*bytes in flight/);
  const passed = await call(proxy, 'GET', `/task/${parent.taskId}`, parent.token);
  t.is(passed.status, 200, 'the bytes of the refused answer were given back');
});

test('one result larger than the bytes the proxy may hold streams through: it costs disk, not memory', async (t) => {
  const { server, proxy, parent } = await setup(t, { proxy: { max_bytes_in_flight: 64 * 1024 } });
  const plaintext = Buffer.alloc(512 * 1024, 'r');
  await patchResult(server, 1, parent.runId, plaintext.toString('base64'));
  const response = await fetch(`${proxy.url}/result/${parent.runId}`, { headers: { authorization: `Bearer ${parent.token}` } });
  t.is(response.status, 200);
  const body = (await response.json()) as { id: number; result: string };
  t.is(body.id, parent.runId);
  t.true(Buffer.from(body.result, 'base64').equals(plaintext));
});

// The proxy as its own process (`v6-node proxy`) under a tight heap, against the development
// server and a real Redis: parallel GET /result of a large string-form result must get 503 with
// Retry-After beyond the proxy's bounds, and the proxy must stay up and answer afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { LiveTokens } from '../queue/live-tokens.js';
import { api, nodeToken, researcher, serverFor } from '../test/dev-server/testkit.js';
import { plainInput } from '../test/dev-server/user-client.js';
import { freePort } from '../test/support/ports.js';
import { startRedis, type RedisServer } from '../test/support/redis.js';

const IMAGE = 'harbor2.vantage6.ai/demo/average';
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
/** The result's plaintext: large enough that two held at once do not fit the proxy's heap below. */
const RESULT_BYTES = 40 * 1024 * 1024;
const HEAP_MB = 192;

let redisServer: RedisServer;
let redis: Redis;

test.before(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
});
test.after.always(async () => {
  redis.disconnect();
  await redisServer.close();
});

interface ProxyChild {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
}

async function startProxyProcess(t: ExecutionContext, config: Record<string, unknown>): Promise<ProxyChild> {
  const dir = await mkdtemp(join(tmpdir(), 'v6-proxy-limits-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = (config.proxy as { listen_port: number }).listen_port;
  await writeFile(join(dir, 'node.yaml'), stringify(config));
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', 'agent/cli.ts', 'proxy', '--config', join(dir, 'node.yaml')], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the proxy exited at start: ${stderr}`);
    const up = await fetch(`${url}/`).then(() => true, () => false);
    if (up) break;
    if (Date.now() > deadline) throw new Error('the proxy did not listen');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, child, exited, stderr: () => stderr };
}

/** A dev server with a finished run whose string-form result is `RESULT_BYTES` of plaintext, and a live container token. */
async function largeResult(t: ExecutionContext) {
  const server = await serverFor(t);
  const user = await researcher(server);
  const task = await user.createTask({
    collaborationId: 1,
    image: IMAGE,
    organizations: [{ id: 1, input: plainInput({ method: 'central' }) }],
    databases: [{ label: 'default' }],
  });
  const [run] = await user.getRuns(task.id);
  // Written into the server's state directly: sending 50 MB through its REST API only costs time here.
  server.state.runs.get(run!.id)!.result = Buffer.alloc(RESULT_BYTES, 'a large result ').toString('base64');
  const answer = await api(server, 'POST', 'token/container', await nodeToken(server, 1), { task_id: task.id, image: IMAGE });
  const token = (answer.body as { container_token: string }).container_token;
  const prefix = `proxy-limits-${process.pid}-${run!.id}-${Date.now()}`;
  await new LiveTokens(redis, prefix).grant(run!.id, token);
  const config = (proxy: Record<string, unknown>) => ({
    api_key: '8f2c5a1e-3b4d-4e6f-9a7b-1c2d3e4f5a6b',
    server_url: server.url,
    api_path: server.apiPath,
    kubernetes: { task_volume: { claim_name: 'tasks', access_mode: 'ReadWriteMany' } },
    redis: { url: redisServer.url },
    queue: { prefix },
    isolation: { probe: false },
    logging: { level: 'warn' },
    ...proxy,
  });
  return { taskId: task.id, runId: run!.id, token, config };
}

function alive(proxy: ProxyChild): boolean {
  return proxy.child.exitCode === null && proxy.child.signalCode === null;
}

async function getResult(url: string, runId: number, token: string) {
  const response = await fetch(`${url}/result/${runId}`, { headers: { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

test('parallel GET /result of a large result: beyond the bounds 503 with Retry-After, and the proxy lives on', async (t) => {
  t.timeout(180_000);
  const { taskId, runId, token, config } = await largeResult(t);
  const listen = await freePort();
  const proxy = await startProxyProcess(
    t,
    config({ proxy: { url: 'http://127.0.0.1', port: listen, listen_port: listen }, metrics: { proxy_port: await freePort() } }),
  );
  const answers = await Promise.all([1, 2, 3].map(() => getResult(proxy.url, runId, token).catch((error: unknown) => ({ status: 0, retryAfter: null, body: Buffer.from(String(error)) }))));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  t.true(alive(proxy), `the proxy died: ${proxy.stderr().slice(-600)}`);
  const ok = answers.filter((a) => a.status === 200);
  const busy = answers.filter((a) => a.status === 503);
  t.true(ok.length >= 1, `statuses: ${answers.map((a) => `${a.status} ${a.status === 0 ? a.body.toString() : ""}`).join(', ')}`);
  t.is(ok.length + busy.length, answers.length, `statuses: ${answers.map((a) => a.status).join(', ')}`);
  t.true(busy.length >= 1, 'some answers were refused for now');
  for (const answer of busy) {
    t.regex(answer.retryAfter ?? '', /^[1-9]\d*$/);
    t.regex((JSON.parse(answer.body.toString('utf8')) as { msg: string }).msg, /busy/);
  }
  const result = JSON.parse(ok[0]!.body.toString('utf8')) as { result: string };
  t.is(Buffer.from(result.result, 'base64').length, RESULT_BYTES);

  // Served again once the others are done.
  const again = await getResult(proxy.url, runId, token);
  t.is(again.status, 200);
  t.true(alive(proxy));
  // A passed-through call too; logs are JSON lines on stdout: nothing on stderr, no Node
  // deprecation warning (http-proxy printed DEP0060 at the first passed-through call).
  t.is((await fetch(`${proxy.url}/task/${taskId}`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(proxy.stderr(), '');
});

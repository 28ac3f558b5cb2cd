// The real vantage6 server (from PyPI, pinned) for tests: its virtualenv, a server config as
// vantage6 writes it with sqlite in a temporary folder, the server on a free loopback port, and
// the fixtures made through its REST API. Shaped like the dev server where world.ts needs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../support/ports.js';
import type { V6Server } from '../support/world.js';
import { createFixtures } from './fixtures.js';
import { ensureServerVenv, VANTAGE6_VERSION } from './venv.js';

/** `close()` stops the server (SIGTERM, then SIGKILL after 10 s) and removes its folder. */
export interface RealServer extends V6Server {
  /** The server's python, for scripts that use vantage6's own code (e.g. to decode results). */
  readonly python: string;
  /** The server's console output so far: what to read when it answered something odd. */
  log(): Promise<string>;
}

/** Loopback unless a test needs the server where pods reach it (the cluster's bridge address). */
const DEFAULT_HOST = '127.0.0.1';
const API_PATH = '/api';
const STARTUP_TIMEOUT_MS = 120_000;
/** What a test hook should allow for startRealServer on a new machine: the virtualenv's first build, then the start. */
export const COLD_START_MS = 6 * 60_000;
const serve = fileURLToPath(new URL('serve.py', import.meta.url));

/** The configuration file of a vantage6 4.x server, with the keys `v6 server new` writes. */
function serverConfig(dir: string, host: string, port: number): string {
  return stringify({
    description: 'v6-node test server',
    ip: host,
    port,
    api_path: API_PATH,
    uri: `sqlite:///${join(dir, 'server.sqlite')}`,
    allow_drop_all: false,
    jwt_secret_key: 'v6-node-test-jwt-secret',
    server_url: `http://${host}:${port}${API_PATH}`,
    directories: { log: dir, data: dir },
    logging: {
      level: 'INFO',
      file: 'server.log',
      use_console: true,
      backup_count: 1,
      max_size: 1024,
      format: '%(asctime)s - %(name)-14s - %(levelname)-8s - %(message)s',
      datefmt: '%Y-%m-%d %H:%M:%S',
      loggers: [
        { name: 'urllib3', level: 'warning' },
        { name: 'socketio.server', level: 'warning' },
        { name: 'engineio.server', level: 'warning' },
        { name: 'sqlalchemy.engine', level: 'warning' },
      ],
    },
  });
}

async function waitUntilAnswering(url: string, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the vantage6 server exited (${child.exitCode ?? child.signalCode}) before answering:\n${(await log()).slice(-3000)}`);
    }
    const answer = await fetch(`${url}${API_PATH}/version`).catch(() => undefined);
    if (answer?.ok) {
      const { version } = (await answer.json()) as { version: string };
      if (version !== VANTAGE6_VERSION) throw new Error(`the server at ${url} is vantage6 ${version}, not ${VANTAGE6_VERSION}`);
      return;
    }
    if (Date.now() >= deadline) throw new Error(`the vantage6 server did not answer at ${url} within ${STARTUP_TIMEOUT_MS} ms:\n${(await log()).slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts the pinned vantage6 server on a free port of `host` (loopback) with a fresh sqlite database and the fixtures. */
export async function startRealServer(options: { host?: string } = {}): Promise<RealServer> {
  const host = options.host ?? DEFAULT_HOST;
  const python = await ensureServerVenv();
  const dir = await mkdtemp(join(tmpdir(), 'v6-real-server-'));
  const port = await freePort();
  const configFile = join(dir, 'server.yaml');
  await writeFile(configFile, serverConfig(dir, host, port));
  const consoleFile = join(dir, 'console.log');
  const output = createWriteStream(consoleFile);
  const child = spawn(python, [serve, configFile, host, String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(output);
  child.stderr!.pipe(output);
  // A test process that ends without close() (a failed hook, ava's timeout) takes the server along.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const log = () => readFile(consoleFile, 'utf8').catch(() => '');
  const url = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await stop(child);
      output.end();
      await rm(dir, { recursive: true, force: true });
    })());
  try {
    await waitUntilAnswering(url, child, log);
    const fixtures = await createFixtures(`${url}${API_PATH}`);
    return { url, apiPath: API_PATH, port, fixtures, python, log, close };
  } catch (error) {
    await close();
    throw error;
  }
}

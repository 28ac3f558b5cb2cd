// The real vantage6 server (from PyPI, pinned) for tests: its virtualenv, a server config as
// vantage6 writes it with sqlite in a temporary folder, the server on a free loopback port, and
// the fixtures made through its REST API. Shaped like the dev server where world.ts needs it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../support/ports.js';
import { serverLogging, startVantage6Process } from '../support/vantage6-process.js';
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
    logging: serverLogging('server.log'),
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
  const server = startVantage6Process({ what: 'the vantage6 server', python, serve, configFile, dir, host, port });
  const url = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    })());
  try {
    await server.answering(url, API_PATH, VANTAGE6_VERSION, STARTUP_TIMEOUT_MS);
    const fixtures = await createFixtures(`${url}${API_PATH}`);
    return { url, apiPath: API_PATH, port, fixtures, python, log: server.log, close };
  } catch (error) {
    await close();
    throw error;
  }
}

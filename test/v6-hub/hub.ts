// A real vantage6 5.0 hub for tests: Keycloak 26 (keycloak.ts: dev mode, its own H2 database
// with the vantage6 realm) and HQ 5.0.3 from PyPI (venv.ts: a pinned virtualenv; serve.py:
// sqlite in a temporary folder), each on a free loopback port, and the fixtures made through
// HQ's REST API as an admin would (fixtures.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../support/ports.js';
import { serverLogging, startVantage6Process, type Vantage6Process } from '../support/vantage6-process.js';
import { createHubFixtures, type CollaborationFixture, type HubFixtures } from './fixtures.js';
import { startKeycloak, type RunningKeycloak } from './keycloak.js';
import { BACKEND_ADMIN_CLIENT, HUB_ADMIN, REALM } from './realm.js';
import { ensureHqVenv, HQ_VERSION } from './venv.js';

export interface RealHub {
  /** HQ's address, e.g. http://127.0.0.1:41234; its API is at `${url}${apiPath}`. */
  readonly url: string;
  /** `/hq`, HQ's default api_path in vantage6 5.0 (hq_config.j2). */
  readonly apiPath: string;
  /** Keycloak's address (what vantage6 5.0 calls auth_url / KEYCLOAK_URL). */
  readonly keycloakUrl: string;
  /** The Keycloak realm: `vantage6`. */
  readonly realm: string;
  readonly fixtures: HubFixtures;
  /** HQ's python (vantage6 5.0.3 and its Python client), for scripts that use vantage6's own code. */
  readonly python: string;
  /** HQ's console output, then Keycloak's: what to read when the hub answered something odd. */
  log(): Promise<string>;
  /**
   * Stops HQ (SIGTERM, as Kubernetes stops its pod), runs `whileDown` if given, and starts it
   * again on the same port and database: what a node sees when its hub is upgraded or rescheduled.
   */
  restartHq(whileDown?: () => Promise<void>): Promise<void>;
  /** Stops HQ and Keycloak (SIGTERM, then SIGKILL after 10 s) and removes their folders. */
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';
const API_PATH = '/hq';
const STARTUP_TIMEOUT_MS = 120_000;
/**
 * What a test hook should allow for startRealHub on a new machine: HQ's virtualenv, Keycloak's
 * download (~170 MB) and its first start, which builds its Quarkus app and the realm's snapshot;
 * then the start.
 */
export const COLD_START_MS = 12 * 60_000;
const serve = fileURLToPath(new URL('serve.py', import.meta.url));

/** HQ's config file, with the keys of the config.yaml vantage6 5.0.3's HQ chart renders (hq_config.j2's defaults). */
function hqConfig(dir: string, host: string, port: number): string {
  return stringify({
    description: 'v6-node test hub',
    api_path: API_PATH,
    port,
    hq_url: `http://${host}:${port}${API_PATH}`,
    uri: `sqlite:///${join(dir, 'hq.sqlite')}`,
    jwt_secret_key: 'v6-node-test-jwt-secret',
    algorithm_stores: [],
    directories: { log: dir, data: dir },
    logging: serverLogging('hq.log'),
  });
}

export interface RealHubOptions {
  /** Where HQ and Keycloak listen (default loopback). */
  host?: string;
  /** The fixtures' collaborations (default COLLABORATIONS: a plain and an encrypted one). */
  collaborations?: readonly CollaborationFixture[];
}

/** Starts Keycloak and HQ on free ports of `host` (loopback), with fresh databases, and makes the fixtures. */
export async function startRealHub(options: RealHubOptions = {}): Promise<RealHub> {
  const host = options.host ?? DEFAULT_HOST;
  const keycloakPort = await freePort();
  const keycloakUrl = `http://${host}:${keycloakPort}`;
  // Keycloak and HQ start side by side (on a new machine, the virtualenv builds meanwhile too):
  // serve.py does its imports, then waits for the realm before HQ reads its public key.
  const starting = startKeycloak({ port: keycloakPort, host });
  let keycloak: RunningKeycloak | undefined;
  let dir: string | undefined;
  let hq: Vantage6Process | undefined;
  const hqLog = () => hq?.log() ?? Promise.resolve('');
  const log = async () => `=== vantage6 HQ ${HQ_VERSION} ===\n${await hqLog()}\n=== Keycloak ===\n${(await keycloak?.log()) ?? ''}`;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await hq?.stop();
      await (keycloak ?? (await starting.catch(() => undefined)))?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    })());
  try {
    const python = await ensureHqVenv();
    dir = await mkdtemp(join(tmpdir(), 'v6-real-hub-'));
    const port = await freePort();
    const configFile = join(dir, 'hq.yaml');
    await writeFile(configFile, hqConfig(dir, host, port));
    // The environment HQ's container gets (the HQ chart's deployment and secret).
    const startHq = (appendLog: boolean) =>
      startVantage6Process({
        what: 'vantage6 HQ',
        python,
        serve,
        configFile,
        dir: dir!,
        host,
        port,
        appendLog,
        env: {
          ...process.env,
          KEYCLOAK_URL: keycloakUrl,
          KEYCLOAK_REALM: REALM,
          KEYCLOAK_ADMIN_USERNAME: HUB_ADMIN.username,
          KEYCLOAK_ADMIN_PASSWORD: HUB_ADMIN.password,
          KEYCLOAK_ADMIN_CLIENT: BACKEND_ADMIN_CLIENT.clientId,
          KEYCLOAK_ADMIN_CLIENT_SECRET: BACKEND_ADMIN_CLIENT.secret,
          // On a new machine Keycloak is downloaded and its realm made first.
          V6_NODE_AUTH_WAIT_S: String(COLD_START_MS / 1000),
        },
      });
    hq = startHq(false);
    keycloak = await starting;
    const url = `http://${host}:${port}`;
    await hq.answering(url, API_PATH, HQ_VERSION, STARTUP_TIMEOUT_MS);
    const fixtures = await createHubFixtures(`${url}${API_PATH}`, keycloak.url, REALM, options.collaborations);
    const restartHq = async (whileDown?: () => Promise<void>) => {
      await hq!.stop();
      await whileDown?.();
      hq = startHq(true);
      await hq.answering(url, API_PATH, HQ_VERSION, STARTUP_TIMEOUT_MS);
    };
    return { url, apiPath: API_PATH, keycloakUrl: keycloak.url, realm: REALM, fixtures, python, log, restartHq, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export type { RunningKeycloak };

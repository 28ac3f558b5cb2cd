// Keycloak 26 for the hub tests: the upstream distribution (org.keycloak:keycloak-quarkus-dist
// from Maven Central, fetched with `mvn dependency:copy`), unpacked once per version under the
// cache folder, plus a snapshot of its embedded H2 database with Keycloak's master realm and the
// vantage6 realm (realm.ts) made through Keycloak's admin REST API. Each start runs Keycloak in
// dev mode from a home folder of its own in a temporary folder (bin/kc.sh copied, lib, conf,
// themes and providers linked to the cache, data/ its own with a copy of the snapshot), so two
// Keycloaks never share a database or transaction log, and a warm start skips the database's
// creation (Liquibase) and the realm's import.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/ports.js';
import { cacheDir, run, withLock } from '../support/pinned-venv.js';
import { masterAdminToken } from './keycloak-admin.js';
import { MASTER_ADMIN, REALM, realmRepresentation } from './realm.js';

/**
 * The newest Keycloak 26 on Maven Central when pinned. vantage6 5.0.3's CLI names 26.6.2 (the
 * Keycloak operator it installs), which Maven Central does not have; 26.7.3 runs on Java 17,
 * which is what Debian 12 has (no openjdk-21 in bookworm).
 */
export const KEYCLOAK_VERSION = '26.7.3';
const READY = '.v6-node-ready';
const SNAPSHOT = 'v6-node-realm';
const STARTUP_TIMEOUT_MS = 240_000;

export function keycloakDir(): string {
  return join(cacheDir(), `keycloak-${KEYCLOAK_VERSION}`);
}

/** What the snapshot depends on: a new realm or version makes a new one. */
function snapshotDigest(): string {
  return createHash('sha256').update(`${KEYCLOAK_VERSION}\n${JSON.stringify(realmRepresentation())}`).digest('hex');
}

export interface RunningKeycloak {
  url: string;
  home: string;
  log(): Promise<string>;
  close(): Promise<void>;
}

/** The unpacked distribution and the realm's snapshot, made if missing. */
export async function ensureKeycloak(): Promise<string> {
  const dir = keycloakDir();
  const digest = snapshotDigest();
  const ready = async () => (await readFile(join(dir, READY), 'utf8').catch(() => '')) === digest;
  if (await ready()) return dir;
  await withLock(`${dir}.lock`, async () => {
    if (await ready()) return;
    const distReady = await access(join(dir, 'lib', 'quarkus-run.jar')).then(() => true, () => false);
    if (!distReady) {
      const building = `${dir}.building`;
      await rm(building, { recursive: true, force: true });
      await mkdir(building, { recursive: true });
      await run('mvn', [
        '-q', '-B', 'dependency:copy',
        `-Dartifact=org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip`,
        `-DoutputDirectory=${building}`,
      ]).catch((error: Error) => {
        throw new Error(`could not fetch Keycloak ${KEYCLOAK_VERSION} from Maven Central with mvn (is Maven installed?): ${error.message}`);
      });
      const zip = join(building, `keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip`);
      await run('unzip', ['-q', zip, '-d', building]);
      await rm(zip);
      await rm(dir, { recursive: true, force: true });
      await rename(join(building, `keycloak-${KEYCLOAK_VERSION}`), dir);
      await rm(building, { recursive: true, force: true });
    }
    await makeSnapshot(dir);
    await writeFile(join(dir, READY), digest);
  });
  return dir;
}

/** Starts Keycloak once with a new database, creates the vantage6 realm, stops it and keeps its database. */
async function makeSnapshot(dir: string): Promise<void> {
  const keycloak = await startKeycloakFrom(dir, { snapshot: false });
  try {
    const access_token = await masterAdminToken(keycloak.url);
    const created = await fetch(`${keycloak.url}/admin/realms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify(realmRepresentation()),
    });
    if (created.status !== 201) throw new Error(`Keycloak did not create the ${REALM} realm: ${created.status} ${await created.text()}`);
    await keycloak.stop();
    const snapshot = join(dir, SNAPSHOT);
    await rm(snapshot, { recursive: true, force: true });
    await mkdir(snapshot);
    for (const file of await readdir(join(keycloak.home, 'data', 'h2'))) {
      if (file.endsWith('.mv.db')) await copyFile(join(keycloak.home, 'data', 'h2', file), join(snapshot, file));
    }
  } finally {
    await keycloak.close();
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      resolve();
    }
  });
}

async function startKeycloakFrom(dir: string, options: { snapshot: boolean; port?: number; host?: string }): Promise<RunningKeycloak & { stop(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'v6-hub-keycloak-'));
  const home = join(root, 'keycloak');
  await mkdir(join(home, 'bin'), { recursive: true });
  await copyFile(join(dir, 'bin', 'kc.sh'), join(home, 'bin', 'kc.sh'));
  for (const shared of ['lib', 'conf', 'themes', 'providers']) await symlink(join(dir, shared), join(home, shared));
  await mkdir(join(home, 'data', 'h2'), { recursive: true });
  if (options.snapshot) {
    for (const file of await readdir(join(dir, SNAPSHOT))) await copyFile(join(dir, SNAPSHOT, file), join(home, 'data', 'h2', file));
  }
  const port = options.port ?? (await freePort());
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host}:${port}`;
  const consoleFile = join(root, 'keycloak.log');
  const output = createWriteStream(consoleFile);
  const child = spawn('sh', [join(home, 'bin', 'kc.sh'), 'start-dev', `--http-host=${host}`, `--http-port=${port}`], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      KC_BOOTSTRAP_ADMIN_USERNAME: MASTER_ADMIN.username,
      KC_BOOTSTRAP_ADMIN_PASSWORD: MASTER_ADMIN.password,
      // Less JIT work at start: Keycloak here serves a handful of requests.
      JAVA_OPTS_APPEND: '-XX:TieredStopAtLevel=1',
    },
  });
  child.stdout!.pipe(output);
  child.stderr!.pipe(output);
  const killOnExit = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const log = () => readFile(consoleFile, 'utf8').catch(() => '');
  const stop = () => stopGroup(child);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await stop();
      output.end();
      await rm(root, { recursive: true, force: true });
    })());
  try {
    // Ready when the realm answers: with the snapshot, the vantage6 realm; without, master.
    const probe = `${url}/realms/${options.snapshot ? REALM : 'master'}`;
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`Keycloak ${KEYCLOAK_VERSION} exited (${child.exitCode ?? child.signalCode}) before answering; its log's last lines:\n${tail(await log())}`);
      }
      const answer = await fetch(probe).catch(() => undefined);
      if (answer?.ok) break;
      if (Date.now() >= deadline) {
        throw new Error(`Keycloak ${KEYCLOAK_VERSION} did not answer at ${probe} within ${STARTUP_TIMEOUT_MS / 1000} s; its log's last lines:\n${tail(await log())}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { url, home, log, close, stop };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Starts Keycloak (dev mode, its own H2 from the realm's snapshot) on `host` (loopback) and `port` (a free one if not given). */
export async function startKeycloak(options: { port?: number; host?: string } = {}): Promise<RunningKeycloak> {
  const dir = await ensureKeycloak();
  const { url, home, log, close } = await startKeycloakFrom(dir, { snapshot: true, ...options });
  return { url, home, log, close };
}

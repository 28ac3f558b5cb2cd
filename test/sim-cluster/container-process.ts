// One container as a host process: a private mount namespace (`unshare --mount`) in which sh
// wrappers (container-wrapper.ts) give it a root of its own with the volumes at their mountPaths,
// change to the working dir, drop to runAsUser/runAsGroup and exec the container's argv, so the
// process id is the container's. The process leads its own process group; stopping it sends
// SIGTERM to the main process if it handles it (a container's PID 1 ignores one it does not),
// then SIGKILL to the group after the grace period, as a container runtime does.
// A memory limit is enforced by sampling the group's resident set size (no cgroup is created).
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Clock } from './clock.js';
import type { ContainerLog } from './container-log.js';
import { entrypointScript, setupScript, type HostEntry, type HostView, type WrapperTools } from './container-wrapper.js';
import type { BindMount } from './pod-volumes.js';

export interface ContainerLaunch {
  argv: string[];
  env: Record<string, string>;
  workingDir?: string;
  mounts: BindMount[];
  runAsUser?: number;
  runAsGroup?: number;
  /** The pod's fsGroup and supplementalGroups: the process's supplementary groups. */
  supplementalGroups?: number[];
  /** Resident set size beyond which the container is OOM-killed (exit code 137). */
  memoryLimitBytes?: number;
  log: ContainerLog;
  /** Where the wrapper scripts, the start-error marker and the container's root go. */
  dir: string;
}

export interface ContainerExit {
  exitCode: number;
  /** 'Completed', 'Error', 'OOMKilled' or 'StartError', as the kubelet reports terminated containers. */
  reason: 'Completed' | 'Error' | 'OOMKilled' | 'StartError';
  message?: string;
}

export interface ContainerProcessOptions {
  clock: Clock;
  /** How often the memory of a container with a limit is sampled. */
  memoryPollMs: number;
}

const PAGE_SIZE = 4096;

/** Whether the process has a SIGTERM handler: bit 15 of SigCgt in /proc/<pid>/status. */
function catchesSigterm(pid: number): boolean {
  try {
    const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return caught !== undefined && (BigInt(`0x${caught}`) & (1n << BigInt(osConstants.signals.SIGTERM - 1))) !== 0n;
  } catch {
    return false;
  }
}

let hostTools: (WrapperTools & { unshare: string }) | undefined;

function hostBinary(name: string): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return join(dir, name);
    } catch {
      continue;
    }
  }
  throw new Error(`the simulated kubelet needs "${name}" on the host`);
}

function tools(): NonNullable<typeof hostTools> {
  hostTools ??= {
    unshare: hostBinary('unshare'),
    mount: hostBinary('mount'),
    mkdir: hostBinary('mkdir'),
    ln: hostBinary('ln'),
    chroot: hostBinary('chroot'),
    setpriv: hostBinary('setpriv'),
  };
  return hostTools;
}

/** The host's filesystem as the wrappers see it when the container starts. */
const hostView: HostView = {
  resolve(path) {
    const parts = path.split('/').filter(Boolean);
    for (let count = parts.length; count > 0; count--) {
      try {
        return { existing: realpathSync(`/${parts.slice(0, count).join('/')}`), missing: parts.slice(count) };
      } catch {
        continue; // missing, or a dangling symlink, which a folder of the container's own then replaces
      }
    }
    return { existing: '/', missing: parts };
  },
  folder(path) {
    const found = statSync(path);
    const entries = found.isDirectory() ? readdirSync(path, { withFileTypes: true }) : [];
    return {
      mode: found.mode,
      uid: found.uid,
      gid: found.gid,
      entries: entries.map((entry): HostEntry => entry.isSymbolicLink()
        ? { name: entry.name, kind: 'symlink', link: readlinkSync(join(path, entry.name)) }
        : { name: entry.name, kind: entry.isDirectory() ? 'dir' : 'file' }),
    };
  },
};

/** Resident set size of every process in the group, in bytes. */
function groupRss(pgid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) total += Number(fields[21]) * PAGE_SIZE;
    } catch {
      continue; // the process went away while we looked
    }
  }
  return total;
}

export class ContainerProcess {
  readonly pid: number;
  readonly startedAt: number;
  readonly exited: Promise<ContainerExit>;
  readonly #clock: Clock;
  #oomKilled = false;
  #stopping = false;
  #done = false;

  constructor(launch: ContainerLaunch, options: ContainerProcessOptions) {
    this.#clock = options.clock;
    const files = { root: join(launch.dir, 'root'), entrypoint: join(launch.dir, 'entrypoint.sh'), startError: join(launch.dir, 'start-error') };
    const setup = join(launch.dir, 'setup.sh');
    mkdirSync(files.root, { recursive: true });
    writeFileSync(setup, setupScript(launch, files, hostView, tools()), { mode: 0o755 });
    writeFileSync(files.entrypoint, entrypointScript(launch, files, tools()), { mode: 0o755 });
    writeFileSync(files.startError, '');
    const child = spawn(tools().unshare, ['--mount', '--propagation', 'private', '/bin/sh', setup, ...launch.argv], {
      env: launch.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.pid = child.pid ?? -1;
    this.startedAt = this.#clock.now();
    child.stdout!.on('data', (chunk: Buffer) => launch.log.write('stdout', chunk));
    child.stderr!.on('data', (chunk: Buffer) => launch.log.write('stderr', chunk));
    const watchdog = launch.memoryLimitBytes === undefined ? undefined : this.#watchMemory(launch.memoryLimitBytes, options.memoryPollMs);
    this.exited = new Promise<ContainerExit>((resolve) => {
      child.once('error', (error) => {
        this.#done = true;
        launch.log.close();
        resolve({ exitCode: 128, reason: 'StartError', message: error.message });
      });
      child.once('exit', (code, signal) => {
        this.#done = true;
        watchdog?.stop();
        this.#signalGroup('SIGKILL'); // the container's other processes end with its main process
        const settle = (): void => {
          launch.log.close();
          const startError = readFileSync(files.startError, 'utf8');
          const exitCode = code ?? 128 + (osConstants.signals[signal!] ?? 0);
          if (startError !== '' && exitCode === 128) resolve({ exitCode, reason: 'StartError', message: startError });
          else if (this.#oomKilled) resolve({ exitCode: 137, reason: 'OOMKilled' });
          else resolve({ exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' });
        };
        if (child.stdout!.readableEnded && child.stderr!.readableEnded) settle();
        else child.once('close', settle);
      });
    });
  }

  /**
   * Stops the container as a runtime does: SIGTERM to its main process alone, SIGKILL to all of it
   * after `graceMs`. The main process is the container's PID 1, which the kernel spares a signal it
   * has no handler for: a process that does not catch SIGTERM lives out the grace period and ends
   * with 137, as on a real node. Idempotent.
   */
  async stop(graceMs: number): Promise<ContainerExit> {
    if (!this.#done && !this.#stopping) {
      this.#stopping = true;
      if (catchesSigterm(this.pid)) {
        try {
          process.kill(this.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      const timer = this.#clock.setTimeout(() => this.#signalGroup('SIGKILL'), graceMs);
      void this.exited.then(() => this.#clock.clearTimeout(timer));
    }
    return this.exited;
  }

  #signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // the group is already gone
    }
  }

  #watchMemory(limit: number, pollMs: number): { stop(): void } {
    let timer: unknown;
    let stopped = false;
    const check = (): void => {
      if (stopped) return;
      if (groupRss(this.pid) > limit) {
        this.#oomKilled = true;
        this.#signalGroup('SIGKILL');
        return;
      }
      timer = this.#clock.setTimeout(check, pollMs);
    };
    timer = this.#clock.setTimeout(check, pollMs);
    return {
      stop: () => {
        stopped = true;
        this.#clock.clearTimeout(timer);
      },
    };
  }
}

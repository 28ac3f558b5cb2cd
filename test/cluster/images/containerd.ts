// A private containerd for testing images: its own root, state and socket under the state folder,
// no CRI plugin, so it neither needs nor disturbs the cluster's containerd. Used by the image
// tests to prove an archive imports and runs exactly as the cluster's kubelet would run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ensureDebianPackages } from './apt.js';
import { STATE_ROOT } from './cache.js';
import { run } from './run.js';

/** How `runImage` runs a container, beyond the image's own configuration. */
export interface RunImageOptions {
  /** Replaces the image's command. */
  args?: readonly string[];
  /** `uid[:gid]` (`ctr run --user`: containerd 1.7 and later; bookworm's 1.6 has no such flag, the image's USER applies). */
  user?: string;
  /** `NAME=value`, added to the image's environment. */
  env?: readonly string[];
  /** Bind mounts of host paths. */
  mounts?: readonly { source: string; destination: string; readOnly?: boolean }[];
  /** The root filesystem read-only. */
  readOnlyRootfs?: boolean;
  /** Capabilities to drop: names with or without `CAP_` (as Kubernetes writes them), or `ALL`. */
  capDrop?: readonly string[];
  /** The runtime's default seccomp profile. */
  seccomp?: boolean;
  /** The container's memory limit in bytes (its cgroup's): the kernel kills it beyond that. */
  memoryLimit?: number;
  /** The host's network namespace (to reach a server of the test's on 127.0.0.1); default none but loopback. */
  hostNetwork?: boolean;
}

/** Every Linux capability (0–40, kernel 5.9+): ctr 1.6's `--cap-drop` knows no `ALL`. */
const ALL_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
].map((name) => `CAP_${name}`);

/** `ctr run` flags for the options; without any, the image runs as it says. */
export function runImageFlags(options: RunImageOptions): string[] {
  return [
    ...(options.user === undefined ? [] : ['--user', options.user]),
    ...(options.env ?? []).flatMap((pair) => ['--env', pair]),
    ...(options.mounts ?? []).flatMap((m) => ['--mount', `type=bind,src=${m.source},dst=${m.destination},options=rbind:${m.readOnly ? 'ro' : 'rw'}`]),
    ...(options.readOnlyRootfs ? ['--read-only'] : []),
    ...(options.capDrop ?? []).flatMap((cap) => (cap === 'ALL' ? ALL_CAPABILITIES : [cap.startsWith('CAP_') ? cap : `CAP_${cap}`])).flatMap((cap) => ['--cap-drop', cap]),
    ...(options.seccomp ? ['--seccomp'] : []),
    ...(options.memoryLimit === undefined ? [] : ['--memory-limit', String(options.memoryLimit)]),
    ...(options.hostNetwork ? ['--net-host'] : []),
  ];
}

export interface PrivateContainerd {
  socket: string;
  /** `ctr --address <socket> -n <namespace> args…`, resolving with stdout. */
  ctr(args: readonly string[]): Promise<string>;
  /**
   * `ctr run --rm` of an imported image, with runc's state kept in this instance's folder; its
   * stdout. A non-zero exit rejects with a CommandError holding the exit code and both streams.
   */
  runImage(image: string, id: string, options?: RunImageOptions): Promise<string>;
  /** Stops containerd and removes its root and state. Idempotent. */
  close(): Promise<void>;
}

/**
 * Not `k8s.io`: containerd keeps runc's state in /run/containerd/runc/<namespace> whatever its own
 * root, so a namespace of its own keeps this instance's containers apart from the cluster's.
 */
export const CTR_NAMESPACE = 'v6-images';

/** Starts containerd in `<state>/containerd-<name>/`, waiting until its socket answers. */
export async function startContainerd(name = `test-${process.pid}`): Promise<PrivateContainerd> {
  await ensureDebianPackages(['containerd', 'runc']);
  const base = join(STATE_ROOT, `containerd-${name}`);
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true });
  const socket = join(base, 'containerd.sock');
  const config = [
    'version = 2',
    `root = "${join(base, 'root')}"`,
    `state = "${join(base, 'state')}"`,
    `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[debug]',
    `  address = "${join(base, 'debug.sock')}"`,
    '[metrics]',
    '  address = ""',
    '',
  ].join('\n');
  await writeFile(join(base, 'config.toml'), config);
  const child: ChildProcess = spawn('containerd', ['--config', join(base, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
  const ctr = (args: readonly string[]) => run('ctr', ['--address', socket, '-n', CTR_NAMESPACE, ...args]);
  const runImage = (image: string, id: string, options: RunImageOptions = {}) =>
    ctr(['run', '--rm', '--runc-root', join(base, 'runc'), ...runImageFlags(options), image, id, ...(options.args ?? [])]);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      if (child.exitCode === null) {
        // Containers first, so no shim outlives its containerd.
        for (const id of (await ctr(['containers', 'ls', '-q']).catch(() => '')).split('\n').filter(Boolean)) {
          await ctr(['task', 'kill', '-s', 'SIGKILL', id]).catch(() => undefined);
          await ctr(['task', 'delete', '-f', id]).catch(() => undefined);
          await ctr(['containers', 'delete', id]).catch(() => undefined);
        }
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, delay(10_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      // Snapshots are overlay mounts; containerd unmounts them on removal, leftovers are unmounted here.
      await run('sh', ['-c', `grep -o " ${base}[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l`]).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    })());
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`containerd exited ${child.exitCode}:\n${log.join('').slice(-2000)}`);
    if (await ctr(['version']).then(() => true, () => false)) return { socket, ctr, runImage, close };
    await delay(100);
  }
  await close();
  throw new Error(`containerd did not answer on ${socket} within 10 s:\n${log.join('').slice(-2000)}`);
}

/**
 * Imports an OCI archive into an existing containerd (the cluster's): `ctr --address <socket>
 * -n k8s.io images import <archive>`, so the kubelet finds the image without pulling it.
 */
export async function importIntoContainerd(archive: string, options: { address: string; namespace?: string }): Promise<void> {
  await run('ctr', ['--address', options.address, '-n', options.namespace ?? 'k8s.io', 'images', 'import', archive]);
}

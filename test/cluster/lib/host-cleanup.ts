// What outlives the cluster's daemons when they stop: the pods' processes (in the kubelet's
// cgroups), containerd's shims, and the mounts under the state dir (overlay roots, volumes,
// network namespaces), and the kubelets' links to the pods' logs. Each is found from the kernel's own tables, not from a record we kept.
import { readFile, readdir, readlink, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { STATE_DIR, paths } from './config.js';
import { tryRun } from './exec.js';
import { terminate } from './processes.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
/** The kubelets' cgroup roots (cgroupfs driver): the first node's default, and the other nodes' own. */
export const KUBEPODS = /^(kubepods|v6-node-.*)$/;

async function subdirs(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory()).map((d) => join(dir, d.name));
}

/** Every cgroup under a pod root, deepest first. */
async function cgroupTree(dir: string): Promise<string[]> {
  const below = await Promise.all((await subdirs(dir)).map(cgroupTree));
  return [...below.flat(), dir];
}

async function podCgroups(): Promise<string[]> {
  const roots: string[] = [];
  for (const controller of await subdirs(CGROUP_ROOT)) {
    for (const dir of await subdirs(controller)) if (KUBEPODS.test(dir.slice(controller.length + 1))) roots.push(dir);
  }
  return (await Promise.all(roots.map(cgroupTree))).flat();
}

/** Kills every process in the pods' cgroups, then removes the cgroups. */
export async function killPods(): Promise<void> {
  const cgroups = await podCgroups();
  const pids = new Set<number>();
  for (const cgroup of cgroups) {
    const procs = await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) pids.add(Number(pid));
  }
  await Promise.all([...pids].map((pid) => terminate(pid, 0)));
  for (const cgroup of cgroups) await rmdir(cgroup).catch(() => undefined);
}

/** containerd-shim processes of our containerds (their command line names the socket, under the state dir). */
export async function killShims(): Promise<void> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('/usr/bin/containerd-shim') && cmdline.includes(`${paths.containerd}/`)) pids.push(Number(entry));
  }
  await Promise.all(pids.map((pid) => terminate(pid, 2000)));
}

/** Unmounts everything mounted under the state dir, deepest first. */
export async function unmountState(): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === STATE_DIR || p.startsWith(`${STATE_DIR}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await tryRun('umount', ['-l', point]);
}

/** Where every kubelet links each container's log (fixed in the kubelet, whatever its podLogsDir). */
const CONTAINER_LOG_LINKS = '/var/log/containers';

/** Removes the kubelets' links into our pods' logs, which would dangle once the state dir is gone. */
export async function removeContainerLogLinks(): Promise<void> {
  for (const name of await readdir(CONTAINER_LOG_LINKS).catch(() => [])) {
    const link = join(CONTAINER_LOG_LINKS, name);
    const target = await readlink(link).catch(() => '');
    if (target.startsWith(`${STATE_DIR}/`)) await rm(link, { force: true });
  }
}

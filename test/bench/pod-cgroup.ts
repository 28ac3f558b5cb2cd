// A pod's CPU and memory as the kernel accounts them, read on the host of the test cluster
// (cgroup v1, the kubelets' cgroupfs driver): the pod's cgroup is `pod<uid>` under a kubelet's
// `kubepods` (the second node's under /v6-node-2/kubepods), in the cpuacct and memory hierarchies.
// cpuacct.usage is the pod's CPU time in nanoseconds; memory.max_usage_in_bytes its peak charge
// (anonymous memory and page cache), which writing 0 resets; memory.stat's total_rss the anonymous
// memory now, which the benchmark samples for a peak RSS.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const CGROUP = '/sys/fs/cgroup';

export interface PodCgroup {
  /** CPU seconds used by the pod's containers so far. */
  cpuSeconds(): Promise<number>;
  /** Resident anonymous memory now (memory.stat total_rss), bytes. */
  rssBytes(): Promise<number>;
  /** Peak memory charge since the last reset, bytes. */
  peakBytes(): Promise<number>;
  resetPeak(): Promise<void>;
}

/** The pod's cgroup folder below `hierarchy` (cpuacct or memory), searched under every kubepods. */
async function podDir(hierarchy: string, uid: string): Promise<string> {
  const wanted = `pod${uid}`;
  const search = async (dir: string, depth: number): Promise<string | undefined> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.filter((e) => e.isDirectory())) {
      if (entry.name === wanted) return join(dir, entry.name);
    }
    if (depth === 0) return undefined;
    for (const entry of entries.filter((e) => e.isDirectory() && (e.name === 'kubepods' || e.name.startsWith('v6-node') || ['besteffort', 'burstable'].includes(e.name)))) {
      const found = await search(join(dir, entry.name), depth - 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const found = await search(join(CGROUP, hierarchy), 3);
  if (found === undefined) throw new Error(`no cgroup ${wanted} under ${join(CGROUP, hierarchy)}`);
  return found;
}

const readNumber = async (file: string) => Number((await readFile(file, 'utf8')).trim());

export async function podCgroup(uid: string): Promise<PodCgroup> {
  const [cpu, memory] = await Promise.all([podDir('cpuacct', uid), podDir('memory', uid)]);
  return {
    cpuSeconds: async () => (await readNumber(join(cpu, 'cpuacct.usage'))) / 1e9,
    rssBytes: async () => {
      const stat = await readFile(join(memory, 'memory.stat'), 'utf8');
      return Number(/^total_rss (\d+)$/m.exec(stat)?.[1] ?? NaN);
    },
    peakBytes: () => readNumber(join(memory, 'memory.max_usage_in_bytes')),
    resetPeak: () => writeFile(join(memory, 'memory.max_usage_in_bytes'), '0'),
  };
}

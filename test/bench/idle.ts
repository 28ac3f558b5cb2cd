// Idle benchmark: the agent (`v6-node start`) and the proxy (`v6-node proxy`) from the build, as in
// the image, logged in and serving metrics with nothing to do. Over V6_BENCH_IDLE_SECONDS (default
// 60) after a settling pause it reads each process's CPU time and voluntary context switches (how
// often it wakes) from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../support/ports.js';
import { startWorld } from '../support/world.js';
import { productDist, productNodeArgs } from './product.js';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface IdleFigures {
  readonly seconds: number;
  readonly processes: ReadonlyArray<{ name: string; cpuPercent: number; wakeupsPerSecond: number }>;
}

async function sample(pid: number): Promise<{ ticks: number; switches: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { ticks: Number(fields[11]) + Number(fields[12]), switches: Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1]) };
}

export async function benchIdle(seconds = Number(process.env.V6_BENCH_IDLE_SECONDS ?? 60)): Promise<IdleFigures> {
  const world = await startWorld();
  const children: Array<{ name: string; child: ChildProcess }> = [];
  try {
    // The input, not the parsed config: the baseline's product may not know every key of this one.
    const config = world.configInput(1, {
      queue: { prefix: 'v6-bench-idle-1' },
      metrics: { port: await freePort(), proxy_port: await freePort() },
      proxy: { url: 'http://127.0.0.1', port: await freePort() },
      isolation: { probe: false },
    });
    const path = join(world.root, 'idle.yaml');
    await writeFile(path, stringify(config));
    for (const name of ['start', 'proxy'] as const) {
      const child = spawn(process.execPath, [...productNodeArgs(), join(productDist(), 'agent', 'cli.js'), name, '--config', path], {
        env: { ...process.env, KUBECONFIG: world.cluster.kubeconfigPath },
        stdio: 'ignore',
      });
      children.push({ name: name === 'start' ? 'agent' : 'proxy', child });
    }
    await new Promise((resolve) => setTimeout(resolve, 10_000)); // logged in, informers listed, workers waiting
    const before = await Promise.all(children.map(({ child }) => sample(child.pid!)));
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const after = await Promise.all(children.map(({ child }) => sample(child.pid!)));
    return {
      seconds,
      processes: children.map(({ name }, i) => ({
        name,
        cpuPercent: ((after[i]!.ticks - before[i]!.ticks) / CLOCK_TICKS_PER_SECOND / seconds) * 100,
        wakeupsPerSecond: (after[i]!.switches - before[i]!.switches) / seconds,
      })),
    };
  } finally {
    for (const { child } of children) child.kill('SIGTERM');
    await Promise.all(children.map(({ child }) => new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)))));
    await world.close();
  }
}

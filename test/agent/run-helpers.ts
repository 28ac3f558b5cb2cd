// Shared by the agent integration tests: start an agent on a world, wait on the dev server's
// state, and read this node's objects from the simulated cluster.
import { readdir, readFile } from 'node:fs/promises';
import { BatchV1Api, CoreV1Api, type V1Job, type V1Secret } from '@kubernetes/client-node';
import { NodeAgent } from '../../agent/node-agent.js';
import type { Config } from '../../agent/config.js';
import { nodeSelector } from '../../agent/kube/names.js';
import { testLogger, NAMESPACE, type World } from '../support/world.js';

export const TIMINGS = { backoffBaseMs: 50, backoffMaxMs: 200, reconnectDelayMs: 50, loginRetryDelayMs: 100 };

export function startAgent(world: World, config: Config): Promise<NodeAgent> {
  return NodeAgent.start({ config, logger: testLogger(), kubeConfig: world.kubeConfig, timings: TIMINGS });
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The run of a task for an organization, as the dev server holds it. */
export function serverRun(world: World, taskId: number, organizationId: number) {
  return world.server.state.runsOfTask(taskId).find((r) => r.organization_id === organizationId);
}

export async function nodeObjects(world: World, nodeId: number): Promise<{ jobs: V1Job[]; secrets: V1Secret[] }> {
  const selector = nodeSelector(nodeId);
  const jobs = await world.kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: NAMESPACE, labelSelector: selector });
  const secrets = await world.kubeConfig.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: NAMESPACE, labelSelector: selector });
  return { jobs: jobs.items, secrets: secrets.items };
}

/** Pids of processes whose environment holds `marker` (set through the agent's algorithm_env). */
export async function processesWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'utf8');
      if (environ.includes(marker)) pids.push(Number(entry));
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

// Shared by the agent integration tests: start an agent on a world, log a researcher in and
// create tasks, wait on the dev server's state, and read this node's objects from the simulated
// cluster.
import { readdir, readFile } from 'node:fs/promises';
import { BatchV1Api, CoreV1Api, type V1Job, type V1Secret } from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import type { Logger } from 'pino';
import { NodeAgent } from '../../agent/node-agent.js';
import { serverUrlOf, type Config } from '../../agent/config.js';
import { LabelKey, nodeSelector } from '../../agent/kube/names.js';
import type { RunStatus } from '../../agent/protocol/run-status.js';
import { serverEndpoints } from '../../agent/server/client.js';
import { serverScope } from '../../queue/server-scope.js';
import { UserClient, plainInput, type TaskJson } from '../dev-server/user-client.js';
import { ALGORITHM_IMAGE, testLogger, NAMESPACE, type V6Server, type World } from '../support/world.js';

export const TIMINGS = { backoffBaseMs: 50, backoffMaxMs: 200, reconnectDelayMs: 50, loginRetryDelayMs: 100 };

export function startAgent(world: World<V6Server>, config: Config, logger: Logger = testLogger()): Promise<NodeAgent> {
  return NodeAgent.start({ config, logger, kubeConfig: world.kubeConfig, timings: TIMINGS });
}

/** The server scope of a node's queue jobs (queue/server-scope.ts), as the agent computes it. */
export function scopeOf(config: Config, nodeId: number): string {
  return serverScope(serverEndpoints(serverUrlOf(config), config.port, config.api_path).base, nodeId);
}

/** The researcher of organization 1, logged in at the world's dev server. */
export async function researcherOf(world: World): Promise<UserClient> {
  const researcher = new UserClient(`${world.server.url}${world.server.apiPath}`);
  await researcher.login('researcher-alpha', 'alpha-password');
  return researcher;
}

/** What a task runs: a method and its kwargs, sent as plain JSON; or an `input` sent as it is (encrypted). */
export type TaskInput = { method: string; kwargs?: Record<string, unknown> } | { input: string };

export interface TaskOptions {
  /** Default 1 (unencrypted). */
  collaborationId?: number;
  /** The one organization the task is for; default 1. */
  organizationId?: number;
  /** Default ALGORITHM_IMAGE. */
  image?: string;
  name?: string;
}

/** Creates a task for one organization, on the `default` database. */
export function createTask(researcher: UserClient, task: TaskInput & TaskOptions): Promise<TaskJson> {
  const input = 'input' in task ? task.input : plainInput({ method: task.method, kwargs: task.kwargs });
  return researcher.createTask({
    collaborationId: task.collaborationId ?? 1,
    organizations: [{ id: task.organizationId ?? 1, input }],
    image: task.image ?? ALGORITHM_IMAGE,
    name: task.name,
    databases: [{ label: 'default' }],
  });
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

/** Waits until the dev server holds the task's run for `organizationId` in `status`, and returns it. */
export function waitForRunStatus(world: World, taskId: number, organizationId: number, status: RunStatus) {
  return waitFor(`task ${taskId}'s run ${status}`, () => {
    const run = serverRun(world, taskId, organizationId);
    return run?.status === status ? run : undefined;
  });
}

/** The run ids of the Jobs the cluster creates from now on, one entry per creation. */
export function recordJobsCreated(world: World): number[] {
  const runIds: number[] = [];
  world.cluster.store.on((event) => {
    if (event.type === 'ADDED' && event.plural === 'jobs') runIds.push(Number(event.object.metadata.labels?.[LabelKey.RunId]));
  });
  return runIds;
}

/** The node's PATCHes of a run at the server that finished it. */
export function finalPatches(world: World, runId: number) {
  return world.server.state.patches.filter(
    (p) => p.run_id === runId && typeof p.body === 'object' && p.body !== null && 'finished_at' in p.body,
  );
}

/** Asserts that no Job or Secret of the node is left, after giving the agent's cleanup time to finish. */
export async function assertNodeCleanedUp(t: ExecutionContext, world: World<V6Server>, nodeId: number): Promise<void> {
  await waitFor('objects cleaned up', async () => {
    const objects = await nodeObjects(world, nodeId);
    return objects.jobs.length === 0 && objects.secrets.length === 0;
  }).catch(() => undefined);
  const objects = await nodeObjects(world, nodeId);
  t.deepEqual(objects.jobs.map((j) => j.metadata?.name), []);
  t.deepEqual(objects.secrets.map((s) => s.metadata?.name), []);
}

export async function nodeObjects(world: World<V6Server>, nodeId: number): Promise<{ jobs: V1Job[]; secrets: V1Secret[] }> {
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

// The path a researcher waits on: task created → run started (started_at: the agent took the run
// and launched it) → its Job created → its pod running → run finished at the server → result read
// back, one task after the other, p50 and p95.
// On the real cluster (the sites of test/cluster/node, a real algorithm-tools image pulled from the
// cluster's registry) and on the simulation (the agent in-process, the JavaScript test algorithm),
// both against the real vantage6 server. The real part needs `npm run cluster:up` first.
import { KubeConfig } from '@kubernetes/client-node';
import { UserClient } from '../dev-server/user-client.js';
import { startAgent, waitFor } from '../agent/run-helpers.js';
import { startNodeProxy } from '../support/node-proxy.js';
import { freePort } from '../support/ports.js';
import { ALGORITHM_IMAGE, startWorld, testLogger } from '../support/world.js';
import { DummyCryptor } from '../../agent/protocol/encryption.js';
import { encodeInput } from '../v6-server/codec.js';
import { startRealServer } from '../v6-server/server.js';
import { watchRunTimeline, type RunTimeline } from './run-timeline.js';

export interface PathFigures {
  readonly runs: number;
  /** Milliseconds per phase, one entry per run. */
  readonly toStarted: number[];
  readonly toJob: number[];
  readonly toRunning: number[];
  readonly toFinished: number[];
  readonly toResult: number[];
}

interface RunTimes {
  started_at: string | null;
  finished_at: string | null;
  status: string;
  log?: string | null;
}

/** The server writes UTC without a zone. */
const serverTime = (value: string) => Date.parse(value.endsWith('Z') || /[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`);

/**
 * Creates `runs` tasks one after the other, each waited for to its result; `create` makes one task.
 * `kubeConfig` is the cluster's, for the Job and pod times.
 */
async function measure(researcher: UserClient, kubeConfig: KubeConfig, runs: number, create: () => Promise<number>): Promise<PathFigures> {
  const figures: PathFigures = { runs, toStarted: [], toJob: [], toRunning: [], toFinished: [], toResult: [] };
  const timeline = await watchRunTimeline(kubeConfig);
  try {
    for (let i = 0; i < runs; i++) await measureOne(researcher, timeline, figures, create);
  } finally {
    timeline.close();
  }
  return figures;
}

async function measureOne(researcher: UserClient, timeline: RunTimeline, figures: PathFigures, create: () => Promise<number>): Promise<void> {
  const created = Date.now();
  const taskId = await create();
  const run = await waitFor(`task ${taskId} finished`, async () => {
    const [found] = (await researcher.request<{ data: RunTimes[] }>('GET', `run?task_id=${taskId}`)).data;
    return found?.finished_at ? found : undefined;
  }, 300_000);
  if (run.status !== 'completed') throw new Error(`task ${taskId} ended ${run.status}: ${run.log ?? ''}`);
  await waitFor(`task ${taskId}'s result`, async () => (await researcher.request<{ data: { result: string | null }[] }>('GET', `result?task_id=${taskId}`)).data[0]?.result, 30_000);
  figures.toResult.push(Date.now() - created);
  figures.toStarted.push(serverTime(run.started_at!) - created);
  figures.toJob.push((timeline.jobCreated.get(taskId) ?? Number.NaN) - created);
  figures.toRunning.push((timeline.podRunning.get(taskId) ?? Number.NaN) - created);
  figures.toFinished.push(serverTime(run.finished_at!) - created);
}

/** On the real cluster: Alpha's plain site, the average image's partial function on its CSV. */
/**
 * On the real cluster. `gate: false` installs the sites with `isolation.gate: false`, which leaves
 * the isolation gate out of the run pods: what the gate costs, measured against the same build.
 */
export async function benchRealPath(runs: number, options: { gate: boolean } = { gate: true }): Promise<PathFigures> {
  // Imported here: the cluster modules need a kubeconfig when loaded, the other bench parts none.
  const { startNodeWorld } = await import('../cluster/node/world.js');
  const { algorithmImage, ALGORITHM_TOOLS_VERSION } = await import('../cluster/algorithms/algorithm-images.js');
  const { REGISTRY, paths } = await import('../cluster/lib/config.js');
  const world = await startNodeWorld({
    algorithms: { average: algorithmImage('average', `${REGISTRY}/algorithms/average:${ALGORITHM_TOOLS_VERSION}`, false) },
    ...(options.gate ? {} : { values: () => ({ isolation: { gate: false } }) }),
  });
  try {
    const admin = new KubeConfig();
    admin.loadFromFile(paths.kubeconfig);
    return await measure(world.researcher, admin, runs, async () => {
      const task = await world.createTask({ encrypted: false, organizations: [world.alpha], value: { method: 'partial_average', kwargs: { column: 'age' } }, image: world.images.algorithms.average!, name: 'bench' });
      return task.id;
    });
  } finally {
    await world.close();
  }
}

/** On the simulation: the same server, one node agent and proxy in-process, the JavaScript test algorithm. */
export async function benchSimulatedPath(runs: number): Promise<PathFigures> {
  const world = await startWorld({ server: startRealServer });
  const node = world.server.fixtures.nodes.find((n) => !world.server.fixtures.collaborations.find((c) => c.id === n.collaboration_id)!.encrypted)!;
  const port = await freePort();
  const config = world.config(node.id, { encryption: { enabled: false }, proxy: { url: 'http://127.0.0.1', port, listen_port: port } });
  const proxy = await startNodeProxy(config, new DummyCryptor(), testLogger(), 500);
  const agent = await startAgent(world, config);
  const researcher = new UserClient(`${world.server.url}${world.server.apiPath}`);
  const user = world.server.fixtures.users.find((u) => u.organization_id === node.organization_id)!;
  await researcher.login(user.username, user.password);
  try {
    return await measure(researcher, world.kubeConfig, runs, async () => {
      const input = await encodeInput(world.server.python, { method: 'partial_average', kwargs: { column: 'age' } });
      const task = await researcher.createTask({ collaborationId: node.collaboration_id, organizations: [{ id: node.organization_id, input }], image: ALGORITHM_IMAGE, name: 'bench', databases: [{ label: 'default' }] });
      return task.id;
    });
  } finally {
    await agent.close();
    await proxy.close();
    await world.close();
  }
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

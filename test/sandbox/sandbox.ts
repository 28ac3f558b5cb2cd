// The sandbox: a whole vantage6 node setup on one machine — Redis (or REDIS_URL), the development
// server, the simulated cluster, and for organizations 1 and 2 of collaboration 1 an agent and a
// proxy each — then a demo: a partial_average task at both organizations combined here, and a
// central task whose algorithm creates the partial subtasks itself through its node's proxy.
import { chmod, copyFile, link, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../../agent/config.js';
import { LabelKey, runIdOf } from '../../agent/kube/names.js';
import { TOKEN_KEY } from '../../agent/kube/paths.js';
import { NodeAgent } from '../../agent/node-agent.js';
import { DummyCryptor } from '../../agent/protocol/encryption.js';
import { startProxy, type RunningProxy } from '../../proxy/proxy.js';
import { LiveTokens } from '../../queue/live-tokens.js';
import { startDevServer, type DevServer } from '../dev-server/index.js';
import { UserClient, plainInput, type RunJson } from '../dev-server/user-client.js';
import { startSimCluster, type SimCluster } from '../sim-cluster/index.js';
import { freePort } from '../support/ports.js';
import { startRedis } from '../support/redis.js';
import { ALGORITHM_IMAGE, DATA_CLAIM, NAMESPACE, PATIENTS, TASK_CLAIM } from '../support/world.js';

/** The federated test image: central_average and partial_average in one image, as vantage6 algorithms ship. */
export const FEDERATED_IMAGE = 'v6-test/federated:1';
const ALGORITHMS = fileURLToPath(new URL('../algorithms/', import.meta.url));
const COLLABORATION = 1;
const NODES = [1, 2] as const;

export interface SandboxOptions {
  /** Where progress lines go; default stdout. */
  readonly print?: (line: string) => void;
  /** Agent and proxy log level (pino); default V6_SANDBOX_LOG or 'warn'. */
  readonly logLevel?: string;
  readonly redisUrl?: string;
}

export interface DemoOutcome {
  readonly ok: boolean;
  /** The federated mean combined in the sandbox from the partial results. */
  readonly mean: number | undefined;
  /** The federated mean the central algorithm computed through the proxies. */
  readonly centralMean: number | undefined;
  readonly problems: string[];
}

export interface Sandbox {
  readonly serverUrl: string;
  readonly kubeconfigPath: string;
  readonly proxies: ReadonlyMap<number, string>;
  runDemo(): Promise<DemoOutcome>;
  /** Stops agents, proxies, cluster, server and Redis, in reverse start order. Idempotent. */
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const print = options.print ?? ((line: string) => console.log(line));
  const logger = pino({ level: options.logLevel ?? process.env.V6_SANDBOX_LOG ?? 'warn' });
  const closers: Array<() => Promise<void> | void> = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0)) await c();
  };
  try {
    const root = await mkdtemp(join('/var/tmp', 'v6-sandbox-'));
    closers.unshift(() => rm(root, { recursive: true, force: true }));
    await chmod(root, 0o755); // algorithm processes run as a non-root user and exec the image's files from here
    // The images' files (node binary hard-linked, scripts copied) live in the sandbox folder, as in
    // test/support/world.ts: pods mount a scratch emptyDir at /tmp, hiding a checkout under /tmp.
    const imageDir = join(root, 'image');
    await mkdir(imageDir, { recursive: true });
    const nodeBinary = join(imageDir, 'node');
    await link(process.execPath, nodeBinary).catch(() => copyFile(process.execPath, nodeBinary));
    for (const file of await readdir(ALGORITHMS)) {
      if (file.endsWith('.mjs')) await copyFile(join(ALGORITHMS, file), join(imageDir, file));
    }
    const pvcs: Record<string, string> = {};
    for (const org of Object.keys(PATIENTS)) {
      const tasks = join(root, `org${org}`, 'tasks');
      const data = join(root, `org${org}`, 'data');
      await mkdir(tasks, { recursive: true });
      await mkdir(data, { recursive: true });
      await writeFile(join(data, 'patients.csv'), PATIENTS[Number(org)]!);
      pvcs[`${TASK_CLAIM}-org${org}`] = tasks;
      pvcs[`${DATA_CLAIM}-org${org}`] = data;
    }
    const redisUrl = options.redisUrl ?? process.env.REDIS_URL;
    let url: string;
    if (redisUrl) {
      url = redisUrl;
    } else {
      const redis = await startRedis();
      closers.unshift(() => redis.close());
      url = redis.url;
    }
    // Unique queue prefixes: the dev server numbers runs from 1 on every start, and a shared Redis
    // (REDIS_URL) may still hold an earlier sandbox's queue jobs for the same run ids.
    const session = `sandbox-${Date.now().toString(36)}`;

    const server: DevServer = await startDevServer({ port: 0 });
    closers.unshift(() => server.close());
    const node = (script: string) => ({ command: [nodeBinary, join(imageDir, script)] });
    const cluster: SimCluster = await startSimCluster({
      port: 0,
      stateDir: join(root, 'cluster'),
      images: { [ALGORITHM_IMAGE]: node('main.mjs'), [FEDERATED_IMAGE]: node('federated.mjs') },
      pvcs,
    });
    closers.unshift(() => cluster.close());
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });

    const proxies = new Map<number, string>();
    for (const nodeId of NODES) {
      const fixture = server.fixtures.nodes.find((n) => n.id === nodeId)!;
      const org = fixture.organization_id;
      const proxyPort = await freePort();
      const config: Config = parseConfig(
        stringify({
          api_key: fixture.api_key,
          server_url: 'http://127.0.0.1',
          port: server.port,
          api_path: server.apiPath,
          databases: [{ label: 'default', type: 'csv', uri: 'patients.csv', volume: { claim_name: `${DATA_CLAIM}-org${org}` } }],
          kubernetes: {
            namespace: NAMESPACE,
            task_volume: { claim_name: `${TASK_CLAIM}-org${org}`, access_mode: 'ReadWriteMany', mount_path: pvcs[`${TASK_CLAIM}-org${org}`] },
            run: { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } } },
          },
          redis: { url },
          queue: { prefix: `${session}-node${nodeId}`, concurrency: 4 },
          proxy: { url: 'http://127.0.0.1', port: proxyPort, listen_port: proxyPort },
          logging: { level: 'warn' },
        }),
        {},
      ).config;

      const redis = new Redis(url, { maxRetriesPerRequest: 1 });
      closers.unshift(() => void redis.disconnect());
      const liveTokens = new LiveTokens(redis, config.queue.prefix);
      const proxy: RunningProxy = await startProxy({
        config,
        logger: logger.child({ component: 'proxy', nodeId }),
        cryptor: new DummyCryptor(),
        liveTokens,
        host: '127.0.0.1',
        closeGraceMs: 1000,
      });
      closers.unshift(() => proxy.close());
      proxies.set(nodeId, proxy.url);
      closers.unshift(grantTokensFromSecrets(cluster, nodeId, liveTokens, logger));

      const agent = await NodeAgent.start({
        config,
        logger: logger.child({ component: 'agent', nodeId }),
        kubeConfig,
        timings: { reconnectDelayMs: 200 },
      });
      closers.unshift(() => agent.close());
    }

    return {
      serverUrl: `${server.url}${server.apiPath}`,
      kubeconfigPath: cluster.kubeconfigPath,
      proxies,
      runDemo: () => runDemo(`${server.url}${server.apiPath}`, print),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Bridge, sandbox only: the agent does not publish live container tokens yet (issue 4 item 3), so
 * the sandbox grants each run's token to the proxy when the agent creates the run's Secret and
 * revokes it when the Secret goes. Returns the unsubscribe function.
 */
function grantTokensFromSecrets(cluster: SimCluster, nodeId: number, liveTokens: LiveTokens, logger: Logger): () => void {
  return cluster.store.on((event) => {
    if (event.plural === 'pods' && event.type === 'ADDED') {
      tokenReadableForRunUser(cluster, event.object);
      return;
    }
    if (event.plural !== 'secrets') return;
    const labels = event.object.metadata?.labels;
    if (labels?.[LabelKey.NodeId] !== String(nodeId)) return;
    const runId = runIdOf(labels);
    if (runId === undefined) return;
    const data = (event.object as { data?: Record<string, string> }).data;
    const work =
      event.type === 'DELETED'
        ? liveTokens.revoke(runId)
        : data?.[TOKEN_KEY]
          ? liveTokens.grant(runId, Buffer.from(data[TOKEN_KEY], 'base64').toString('utf8'))
          : Promise.resolve();
    work.catch((error: unknown) => logger.warn({ err: error, runId }, 'sandbox token bridge failed'));
  });
}

/**
 * Workaround, sandbox only: the simulated kubelet writes Secret volume files root-owned and does not
 * give them to the pod's fsGroup as a real kubelet does, so the 0440 token is unreadable for the
 * non-root algorithm. Widen the mode of the pod's Secret volumes to 0444 before the kubelet mounts.
 */
function tokenReadableForRunUser(cluster: SimCluster, pod: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } }): void {
  if (pod.metadata?.labels?.[LabelKey.RunId] === undefined || !pod.metadata.name) return;
  const { name, namespace } = pod.metadata;
  queueMicrotask(() => {
    try {
      cluster.store.update('pods', namespace, name, (draft) => {
        const volumes = (draft as { spec?: { volumes?: Array<{ secret?: { defaultMode?: number } }> } }).spec?.volumes ?? [];
        for (const volume of volumes) if (volume.secret) volume.secret.defaultMode = 0o444;
      });
    } catch {
      // gone already
    }
  });
}

function decode(result: string | null | undefined): unknown {
  return result ? JSON.parse(Buffer.from(result, 'base64').toString('utf8')) : undefined;
}

/** Polls the task's runs, printing each status change, until every run has finished. */
async function follow(user: UserClient, taskId: number, label: string, print: (line: string) => void, timeoutMs = 90_000): Promise<RunJson[]> {
  const seen = new Map<number, string>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = await user.getRuns(taskId);
    for (const run of runs) {
      if (seen.get(run.id) !== run.status) {
        seen.set(run.id, run.status);
        print(`  [${label}] run ${run.id} (organization ${run.organization.id}): ${run.status}`);
      }
    }
    if (runs.length > 0 && runs.every((r) => r.finished_at !== null)) return runs;
    if (Date.now() > deadline) throw new Error(`task ${taskId} not finished within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function runDemo(apiBase: string, print: (line: string) => void): Promise<DemoOutcome> {
  const problems: string[] = [];
  const user = new UserClient(apiBase);
  await user.login('researcher-alpha', 'alpha-password');
  const orgs = [1, 2];

  print(`Demo 1: partial_average of column "age" at organizations ${orgs.join(' and ')}, combined by the researcher`);
  const task = await user.createTask({
    collaborationId: COLLABORATION,
    organizations: orgs.map((id) => ({ id, input: plainInput({ method: 'partial_average', kwargs: { column: 'age' } }) })),
    image: ALGORITHM_IMAGE,
    name: 'sandbox demo: partial_average',
    databases: [{ label: 'default' }],
  });
  print(`  task ${task.id} created`);
  const runs = await follow(user, task.id, 'partial', print);
  let mean: number | undefined;
  const failed = runs.filter((r) => r.status !== 'completed');
  if (failed.length > 0) {
    problems.push(...failed.map((r) => `demo 1 run ${r.id}: ${r.status}: ${r.log ?? ''}`));
  } else {
    const partials = (await user.getResults(task.id)).map((r) => decode(r.result) as { sum: number; count: number });
    for (const p of partials) print(`  partial: sum ${p.sum}, count ${p.count}`);
    const sum = partials.reduce((a, p) => a + p.sum, 0);
    const count = partials.reduce((a, p) => a + p.count, 0);
    mean = sum / count;
    print(`  federated mean age: ${mean} (${sum} / ${count})`);
  }

  print(`Demo 2: central_average at organization 1; its algorithm creates the partial subtasks through its node's proxy`);
  let centralMean: number | undefined;
  const central = await user.createTask({
    collaborationId: COLLABORATION,
    organizations: [{ id: 1, input: plainInput({ method: 'central_average', kwargs: { column: 'age', organizations: orgs, collaboration_id: COLLABORATION, image: FEDERATED_IMAGE } }) }],
    image: FEDERATED_IMAGE,
    name: 'sandbox demo: central_average',
    databases: [{ label: 'default' }],
  });
  print(`  task ${central.id} created`);
  const [centralRun] = await follow(user, central.id, 'central', print);
  if (centralRun?.status !== 'completed') {
    problems.push(`demo 2 central run ${centralRun?.id}: ${centralRun?.status}: ${centralRun?.log ?? ''}`);
  } else {
    const [result] = await user.getResults(central.id);
    const out = decode(result?.result) as { mean: number; sum: number; count: number; subtask_id: number };
    await follow(user, out.subtask_id, 'subtask', print, 5_000).catch(() => []);
    centralMean = out.mean;
    print(`  central result: mean age ${out.mean} (${out.sum} / ${out.count}) from subtask ${out.subtask_id}`);
    if (mean !== undefined && Math.abs(mean - out.mean) > 1e-9) problems.push(`central mean ${out.mean} differs from ${mean}`);
  }
  for (const p of problems) print(`  PROBLEM: ${p}`);
  return { ok: problems.length === 0 && mean !== undefined && centralMean !== undefined, mean, centralMean, problems };
}

// The sandbox: a whole vantage6 node setup on one machine — Redis (or REDIS_URL), the development
// server, the simulated cluster, and for organizations 1 and 2 of collaboration 1 an agent and a
// proxy each — then a demo: a partial_average task at both organizations combined here, and a
// central task whose algorithm creates the partial subtasks itself through its node's proxy.
import { pino } from 'pino';
import { serveAgent } from '../../agent/serve.js';
import { closeInOrder, type CloseStep } from '../../agent/shutdown.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DummyCryptor, RsaCryptor } from '../../agent/protocol/encryption.js';
import { loadPrivateKey, publicKeyString } from '../../agent/protocol/keys.js';
import { UserClient, plainInput, type RunJson } from '../dev-server/user-client.js';
import { startNodeProxy } from '../support/node-proxy.js';
import { freePort } from '../support/ports.js';
import { ALGORITHM_IMAGE, FEDERATED_IMAGE, startWorld } from '../support/world.js';

const COLLABORATION = 1;
const ENCRYPTED_COLLABORATION = 2;
/** The dev server's nodes: 1 and 2 in the unencrypted collaboration, 3 and 4 in the encrypted one. */
const NODES = [1, 2, 3, 4] as const;
const ENCRYPTED_NODES: ReadonlySet<number> = new Set([3, 4]);

/** Throw-away organization keys (the vantage6 test vectors' key pairs): organization 1 → key1, 2 → key2. */
async function organizationKeys(): Promise<Map<number, string>> {
  const vectors = JSON.parse(await readFile(new URL('../fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as {
    key_pairs: Array<{ private_key_pem: string }>;
  };
  return new Map(vectors.key_pairs.slice(0, 2).map((pair, i) => [i + 1, pair.private_key_pem]));
}

export interface SandboxOptions {
  /** Where progress lines go; default stdout. */
  readonly print?: (line: string) => void;
  /** Agent and proxy log level (pino); default V6_SANDBOX_LOG or 'info'. */
  readonly logLevel?: string;
  /**
   * Where each node's agent and proxy write their JSON log lines, one file per node
   * (`node-<id>.log`), so they stay out of the demo's own lines; default V6_SANDBOX_LOGS or a
   * new folder under the system's temporary directory. Kept after the sandbox stops.
   */
  readonly logDir?: string;
  readonly redisUrl?: string;
}

export interface DemoOutcome {
  readonly ok: boolean;
  /** The federated mean combined in the sandbox from the partial results. */
  readonly mean: number | undefined;
  /** The federated mean the central algorithm computed through the proxies. */
  readonly centralMean: number | undefined;
  /** The same, in the encrypted collaboration. */
  readonly encryptedMean: number | undefined;
  readonly problems: string[];
}

export interface Sandbox {
  readonly serverUrl: string;
  readonly kubeconfigPath: string;
  readonly proxies: ReadonlyMap<number, string>;
  /** Per node: the agent's and the proxy's base URL of /metrics, /livez, /readyz. */
  readonly metrics: ReadonlyMap<number, { agent: string; proxy: string }>;
  /** Per node: the file its agent's and proxy's log lines go to. */
  readonly logs: ReadonlyMap<number, string>;
  runDemo(): Promise<DemoOutcome>;
  /** Stops agents, proxies, cluster, server and Redis, in reverse start order. Idempotent. */
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const print = options.print ?? ((line: string) => console.log(line));
  const level = options.logLevel ?? process.env.V6_SANDBOX_LOG ?? 'info';
  const logDir = options.logDir ?? process.env.V6_SANDBOX_LOGS ?? join(tmpdir(), `v6-sandbox-logs-${Date.now().toString(36)}`);
  await mkdir(logDir, { recursive: true });
  const logs = new Map<number, string>();
  // Every step bounded and run whatever the earlier ones did, so the world's folder goes last
  // even when an agent cannot close (Ctrl-C while something is away).
  const closers: CloseStep[] = [];
  const closeLogger = pino({ level: 'warn' }, pino.destination(2));
  const close = async (): Promise<void> => {
    await closeInOrder(closers.splice(0), { logger: closeLogger });
  };
  try {
    // Unique queue prefixes: the dev server numbers runs from 1 on every start, and a shared Redis
    // (REDIS_URL) may still hold an earlier sandbox's queue jobs for the same run ids.
    const redisUrl = options.redisUrl ?? process.env.REDIS_URL;
    const world = await startWorld({
      ...(redisUrl === undefined ? {} : { redisUrl }),
      queuePrefix: `sandbox-${Date.now().toString(36)}`,
    });
    closers.unshift({ name: 'world (Redis, server, cluster, its folder)', close: () => world.close() });

    const keys = await organizationKeys();
    const keyFiles = new Map<number, string>();
    for (const [org, pem] of keys) {
      const path = join(world.root, `org${org}-private-key.pem`);
      await writeFile(path, pem, { mode: 0o600 });
      keyFiles.set(org, path);
    }
    const proxies = new Map<number, string>();
    const metrics = new Map<number, { agent: string; proxy: string }>();
    for (const nodeId of NODES) {
      const logFile = join(logDir, `node-${nodeId}.log`);
      const logger = pino({ level }, pino.destination({ dest: logFile, sync: true }));
      logs.set(nodeId, logFile);
      const proxyPort = await freePort();
      const org = world.server.fixtures.nodes.find((n) => n.id === nodeId)!.organization_id;
      const encrypted = ENCRYPTED_NODES.has(nodeId);
      const config = world.config(nodeId, {
        proxy: { url: 'http://127.0.0.1', port: proxyPort, listen_port: proxyPort },
        logging: { level: 'warn' },
        ...(encrypted ? { encryption: { enabled: true, private_key: keyFiles.get(org) } } : {}),
      });
      const cryptor = encrypted ? RsaCryptor.fromPem(keys.get(org)!) : new DummyCryptor();
      const nodeProxy = await startNodeProxy(config, cryptor, logger.child({ component: 'proxy', nodeId }));
      closers.unshift({ name: `proxy of node ${nodeId}`, close: () => nodeProxy.close() });
      const { proxy } = nodeProxy;
      proxies.set(nodeId, proxy.url);

      const agent = await serveAgent({
        config,
        logger: logger.child({ component: 'agent' }),
        kubeConfig: world.kubeConfig,
        timings: { reconnectDelayMs: 200 },
        metricsPort: 0,
        metricsHost: '127.0.0.1',
      });
      closers.unshift({ name: `agent of node ${nodeId}`, close: async () => void (await agent.close()) });
      metrics.set(nodeId, { agent: agent.health.url, proxy: proxy.metricsUrl });
    }

    const serverUrl = `${world.server.url}${world.server.apiPath}`;
    return {
      serverUrl,
      kubeconfigPath: world.cluster.kubeconfigPath,
      logs,
      proxies,
      metrics,
      runDemo: () => runDemo(serverUrl, print, new RsaCryptor(loadPrivateKey(keys.get(1)!))),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
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

async function runDemo(apiBase: string, print: (line: string) => void, cryptor: RsaCryptor): Promise<DemoOutcome> {
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
  const plain = { encode: (value: unknown) => plainInput(value), decode };
  const centralMean = await centralDemo(user, COLLABORATION, 'demo 2', plain, print, problems);
  print(`Demo 3: the same in the encrypted collaboration: inputs and results encrypted per organization, by the researcher and the proxy`);
  const sealed = {
    encode: (value: unknown) => cryptor.encryptBytesToStr(Buffer.from(JSON.stringify(value)), publicKeyString(cryptor.privateKey)),
    decode: (result: string | null | undefined) => (result ? JSON.parse(cryptor.decryptStrToBytes(result).toString('utf8')) : undefined),
  };
  const encryptedMean = await centralDemo(user, ENCRYPTED_COLLABORATION, 'demo 3', sealed, print, problems);
  for (const value of [centralMean, encryptedMean]) {
    if (value !== undefined && mean !== undefined && Math.abs(mean - value) > 1e-9) problems.push(`central mean ${value} differs from ${mean}`);
  }
  for (const p of problems) print(`  PROBLEM: ${p}`);
  const ok = problems.length === 0 && mean !== undefined && centralMean !== undefined && encryptedMean !== undefined;
  return { ok, mean, centralMean, encryptedMean, problems };
}

interface Codec {
  encode(value: unknown): string;
  decode(result: string | null | undefined): unknown;
}

/**
 * A central_average task at organization 1 of `collaborationId`: its algorithm creates the partial
 * subtasks for organizations 1 and 2 through its node's proxy and combines their results.
 */
async function centralDemo(
  user: UserClient,
  collaborationId: number,
  label: string,
  codec: Codec,
  print: (line: string) => void,
  problems: string[],
): Promise<number | undefined> {
  const kwargs = { column: 'age', organizations: [1, 2], collaboration_id: collaborationId, image: FEDERATED_IMAGE };
  const central = await user.createTask({
    collaborationId,
    organizations: [{ id: 1, input: codec.encode({ method: 'central_average', kwargs }) }],
    image: FEDERATED_IMAGE,
    name: `sandbox ${label}: central_average`,
    databases: [{ label: 'default' }],
  });
  print(`  task ${central.id} created`);
  const [centralRun] = await follow(user, central.id, 'central', print);
  if (centralRun?.status !== 'completed') {
    problems.push(`${label} central run ${centralRun?.id}: ${centralRun?.status}: ${centralRun?.log ?? ''}`);
    return undefined;
  }
  const [result] = await user.getResults(central.id);
  const out = codec.decode(result?.result) as { mean: number; sum: number; count: number; subtask_id: number };
  await follow(user, out.subtask_id, 'subtask', print, 5_000).catch(() => []);
  print(`  central result: mean age ${out.mean} (${out.sum} / ${out.count}) from subtask ${out.subtask_id}`);
  return out.mean;
}

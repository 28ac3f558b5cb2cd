// A whole node's surroundings for integration tests and the sandbox: a private Redis, a vantage6
// server (the development server, or the real one of test/v6-server), and the simulated cluster
// with the test algorithm image, a task volume and a CSV database on claims.
import { chmod, copyFile, link, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../../agent/config.js';
import { startDevServer, type DevServer } from '../dev-server/index.js';
import type { Fixtures } from '../dev-server/state/fixtures.js';
import { startSimCluster, type SimCluster } from '../sim-cluster/index.js';
import type { ImageMap } from '../sim-cluster/image-map.js';
import { startRedis, type RedisServer } from './redis.js';

/** The test algorithm image; any reference in `ALGORITHM_IMAGES` runs test/algorithms/main.mjs. */
export const ALGORITHM_IMAGE = 'v6-test/algorithms:1';
export const ALGORITHM_IMAGES = [ALGORITHM_IMAGE, 'v6-test/algorithms:2', 'other-registry.example/evil:1'];
/** The federated test image: central_average and partial_average in one image, as vantage6 algorithms ship. */
export const FEDERATED_IMAGE = 'v6-test/federated:1';
/** Calls the node's proxy over and over and counts its answers (the fault suite's proxy scenario). */
export const PROXY_CALLER_IMAGE = 'v6-test/proxy-caller:1';
/** The agent's own image as the isolation probe uses it: `node` on the PATH (agent/isolation/probe-spec.ts). */
export const PROBE_IMAGE = 'v6-test/node-agent:1';
export const NAMESPACE = 'vantage6-tasks';
export const TASK_CLAIM = 'v6-tasks';
export const DATA_CLAIM = 'hospital-data';
/** The CSV each organization's database holds, in the fixtures' order: ages whose sums differ per organization. */
export const PATIENTS: readonly string[] = ['id,age\n1,30\n2,40\n3,50\n', 'id,age\n1,20\n2,60\n'];

const algorithms = fileURLToPath(new URL('../algorithms/', import.meta.url));

/**
 * The test algorithm image's files: the node binary (hard-linked, so it costs nothing) and the
 * algorithm scripts, in a folder of the world. Pods mount a scratch emptyDir at /tmp, which
 * would hide a checkout (and its node binary) that lives under /tmp.
 */
async function algorithmImages(root: string): Promise<Record<string, { command: string[]; env?: Record<string, string> }>> {
  const dir = join(root, 'image');
  await mkdir(dir, { recursive: true });
  const node = join(dir, 'node');
  await link(process.execPath, node).catch(() => copyFile(process.execPath, node));
  for (const file of await readdir(algorithms)) {
    if (file.endsWith('.mjs')) await copyFile(join(algorithms, file), join(dir, file));
  }
  const main = { command: [node, join(dir, 'main.mjs')] };
  return {
    ...Object.fromEntries(ALGORITHM_IMAGES.map((image) => [image, main])),
    [FEDERATED_IMAGE]: { command: [node, join(dir, 'federated.mjs')] },
    [PROXY_CALLER_IMAGE]: { command: [node, join(dir, 'proxy-caller.mjs')] },
    [PROBE_IMAGE]: { command: [], env: { PATH: `${dir}:/usr/bin:/bin` } },
  };
}

/** What a world needs of its vantage6 server; the dev server and test/v6-server's real one have it. */
export interface V6Server {
  /** e.g. `http://127.0.0.1:41234`; the REST base is `url + apiPath`. */
  readonly url: string;
  readonly apiPath: string;
  readonly port: number;
  readonly fixtures: Fixtures;
  close(): Promise<void>;
}

export interface World<S extends V6Server = DevServer> {
  readonly root: string;
  /** The world's own Redis; undefined when it uses `WorldOptions.redisUrl`. */
  readonly redis: RedisServer | undefined;
  readonly redisUrl: string;
  readonly server: S;
  readonly cluster: SimCluster;
  readonly kubeConfig: KubeConfig;
  /** A valid agent config for a node of the server's fixtures, with overrides on top. */
  config(nodeId: number, overrides?: Record<string, unknown>): Config;
  /**
   * The same as the YAML an admin writes, defaults left out: what to give a product of another
   * build (the bench's baseline), which may not know every key of this one.
   */
  configInput(nodeId: number, overrides?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** An existing Redis to use instead of starting one. */
  readonly redisUrl?: string;
  /** Prefix of the nodes' queue keys (`<prefix>-<node id>`); unique per world when Redis is shared. */
  readonly queuePrefix?: string;
  /** The dev server's port (default a free one); not for `server`. */
  readonly serverPort?: number;
  readonly clusterPort?: number;
  /** More simulated images, given the world's root (where their files must go to be readable by algorithms). */
  readonly images?: (root: string) => Promise<ImageMap>;
}

/** Starts Redis, the dev server and the simulated cluster; one task volume and database per organization. */
export function startWorld(options?: WorldOptions): Promise<World>;
/** The same with another vantage6 server, started by `server` (e.g. test/v6-server's startRealServer). */
export function startWorld<S extends V6Server>(options: WorldOptions & { server: () => Promise<S> }): Promise<World<S>>;
export async function startWorld(options: WorldOptions & { server?: () => Promise<V6Server> } = {}): Promise<World<V6Server>> {
  const server = await (options.server ?? (() => startDevServer({ port: options.serverPort ?? 0 })))();
  // Not under /tmp: algorithm pods mount a scratch emptyDir at /tmp, and the simulated kubelet
  // bind-mounts volume sources from the host inside the pod's mount namespace in order.
  const root = await mkdtemp(join('/var/tmp', 'v6-world-'));
  await chmod(root, 0o755); // algorithm processes run as a non-root user and exec the image's files from here
  const pvcs: Record<string, string> = {};
  for (const [index, { id: org }] of server.fixtures.organizations.entries()) {
    const tasks = join(root, `org${org}`, 'tasks');
    const data = join(root, `org${org}`, 'data');
    await mkdir(tasks, { recursive: true });
    await mkdir(data, { recursive: true });
    const patients = PATIENTS[index];
    if (patients === undefined) throw new Error(`organization ${org} has no database: PATIENTS has ${PATIENTS.length} entries`);
    await writeFile(join(data, 'patients.csv'), patients);
    pvcs[`${TASK_CLAIM}-org${org}`] = tasks;
    pvcs[`${DATA_CLAIM}-org${org}`] = data;
  }
  const images = { ...(await algorithmImages(root)), ...(await options.images?.(root)) };
  const redis = options.redisUrl === undefined ? await startRedis({ appendonly: true }) : undefined;
  const redisUrl = options.redisUrl ?? redis!.url;
  const queuePrefix = options.queuePrefix ?? 'v6-node';
  const cluster = await startSimCluster({
    port: options.clusterPort ?? 0,
    stateDir: join(root, 'cluster'),
    images,
    pvcs,
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });

  const configInput = (nodeId: number, overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const node = server.fixtures.nodes.find((n) => n.id === nodeId);
    if (!node) throw new Error(`no node ${nodeId} in the server's fixtures`);
    const org = node.organization_id;
    return {
      api_key: node.api_key,
      server_url: 'http://127.0.0.1',
      port: server.port,
      api_path: server.apiPath,
      databases: [{ label: 'default', type: 'csv', uri: 'patients.csv', volume: { claim_name: `${DATA_CLAIM}-org${org}` } }],
      kubernetes: {
        namespace: NAMESPACE,
        task_volume: { claim_name: `${TASK_CLAIM}-org${org}`, access_mode: 'ReadWriteMany', mount_path: pvcs[`${TASK_CLAIM}-org${org}`] },
        run: { resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } } },
      },
      redis: { url: redisUrl },
      queue: { prefix: `${queuePrefix}-${nodeId}`, concurrency: 4 },
      proxy: { url: 'http://127.0.0.1', port: 7654 },
      // The probe runs in every world; pods share the host network here, so the default forbidden
      // destination (the simulated API server) is reachable and the verdict is not-enforced:
      // allowed, so runs go. test/agent/isolation.test.ts covers the verdicts and the hold.
      isolation: { allow_unenforced: true, image: PROBE_IMAGE, timeout_seconds: 1, proxy_wait_seconds: 1 },
      ...overrides,
    };
  };
  const config = (nodeId: number, overrides: Record<string, unknown> = {}): Config => parseConfig(stringify(configInput(nodeId, overrides)), {}).config;

  return {
    root,
    redis,
    redisUrl,
    server,
    cluster,
    kubeConfig,
    config,
    configInput,
    close: async () => {
      await cluster.close();
      await server.close();
      await redis?.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A logger for tests: silent unless V6_TEST_LOG names a level. */
export function testLogger(): Logger {
  return pino({ level: process.env.V6_TEST_LOG ?? 'silent' });
}

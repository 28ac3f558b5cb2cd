// Dispatch benchmark (issue 3 item 10): 1,000 open runs for one node before its agent starts, so
// they reach it in one sync; time from the sync until every run's Job exists and until every run
// is reported, and the agent process's peak RSS (VmHWM). The algorithm is a one-line shell image.
// With `podsRun: false` the simulated cluster has no kubelet: pods are created but never run, as
// on a cluster whose nodes are elsewhere, so the figure is the agent's dispatch alone and not the
// simulated node's process spawning on the same two cores.
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { parseConfig } from '../../agent/config.js';
import { LabelKey } from '../../agent/kube/names.js';
import { startDevServer } from '../dev-server/index.js';
import { UserClient, plainInput } from '../dev-server/user-client.js';
import { startSimCluster } from '../sim-cluster/index.js';
import { JobController } from '../sim-cluster/job-controller.js';
import type { Store } from '../sim-cluster/store.js';
import { startRedis } from '../support/redis.js';
import { productDistUrl, productNodeArgs } from './product.js';
import { NAMESPACE } from '../support/world.js';

const BENCH_IMAGE = 'v6-test/bench-echo:1';
// OUTPUT_FILE comes base32-encoded with '!' for '=' (the 4.x contract); coreutils base32 decodes it.
const ECHO = 'printf \'{"ok":true}\' > "$(printf %s "$OUTPUT_FILE" | tr "!" "=" | base32 -d)"';

export interface DispatchFigures {
  runs: number;
  createTasksMs: number;
  allJobsMs: number;
  allReportedMs: number;
  peakRssMb: number;
  /** The agent's RSS when it is ready, before the runs: what loading its modules costs. */
  readyRssMb: number;
  /** The agent's CPU (user + system) from ready to the end, per run, ms. */
  cpuMsPerRun: number;
  concurrency: number;
  maxActiveJobs: number;
  /** The agent's Kubernetes API traffic: requests, and the TCP connections they came over. */
  apiRequests: number;
  apiConnections: number;
}

export interface DispatchOptions {
  runs?: number;
  concurrency?: number;
  maxActiveJobs?: number;
  /** Whether the simulated kubelet runs the pods (default true); without it only Job creation is measured. */
  podsRun?: boolean;
  print?: (l: string) => void;
}

export async function benchDispatch(options: DispatchOptions = {}): Promise<DispatchFigures> {
  const podsRun = options.podsRun ?? true;
  const runs = options.runs ?? 1000;
  const concurrency = options.concurrency ?? 32;
  const maxActiveJobs = options.maxActiveJobs ?? runs;
  const print = options.print ?? console.log;
  const root = await mkdtemp(join('/var/tmp', 'v6-bench-'));
  const tasksDir = join(root, 'tasks');
  await mkdir(tasksDir, { recursive: true });
  const external = process.env.REDIS_URL;
  const redis = external ? undefined : await startRedis();
  const server = await startDevServer({ port: 0 });
  const cluster = await startSimCluster({
    port: 0,
    stateDir: join(root, 'cluster'),
    images: { [BENCH_IMAGE]: { command: ['/bin/sh', '-c', ECHO] } },
    pvcs: { 'bench-tasks': tasksDir },
    historySize: 20_000,
    ...(podsRun ? {} : { controllers: (store: Store) => [new JobController(store)] }),
  });
  let child: ReturnType<typeof fork> | undefined;
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
    const node = server.fixtures.nodes.find((n) => n.id === 1)!;
    const config = parseConfig(
      stringify({
        api_key: node.api_key,
        server_url: 'http://127.0.0.1',
        port: server.port,
        api_path: server.apiPath,
        databases: [],
        kubernetes: {
          namespace: NAMESPACE,
          task_volume: { claim_name: 'bench-tasks', access_mode: 'ReadWriteMany', mount_path: tasksDir },
          run: { resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '1', memory: '64Mi' } } },
        },
        redis: { url: external ?? redis!.url },
        queue: { prefix: `bench-${Date.now().toString(36)}`, concurrency, max_active_jobs: maxActiveJobs },
        proxy: { url: 'http://127.0.0.1', port: 7654 },
        share_algorithm_logs: false,
        // The isolation probe is not what this measures (the simulated cluster enforces no
        // NetworkPolicy, so it would hold every launch).
        isolation: { probe: false },
        logging: { level: 'warn' },
      }),
      {},
    ).config;

    const user = new UserClient(`${server.url}${server.apiPath}`);
    await user.login('researcher-alpha', 'alpha-password');
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < runs) {
          next++;
          await user.createTask({ collaborationId: 1, organizations: [{ id: 1, input: plainInput({ method: 'echo' }) }], image: BENCH_IMAGE, name: 'bench' });
        }
      }),
    );
    const createTasksMs = performance.now() - t0;
    print(`dispatch: ${runs} open runs created at the server in ${(createTasksMs / 1000).toFixed(1)} s`);

    const jobs = new Set<string>();
    let allJobsAt: number | undefined;
    const unsubscribe = cluster.store.on((event) => {
      if (event.plural !== 'jobs' || event.type !== 'ADDED' || event.object.metadata?.labels?.[LabelKey.NodeId] !== '1') return;
      jobs.add(event.object.metadata.name ?? '');
      if (jobs.size >= runs && allJobsAt === undefined) allJobsAt = performance.now();
    });

    const trafficBefore = cluster.traffic();
    const start = performance.now();
    child = fork(fileURLToPath(new URL('./agent-process.mjs', import.meta.url)), [], {
      execArgv: productNodeArgs(),
      env: { ...process.env, V6_BENCH_DIST_URL: productDistUrl(), V6_BENCH_CONFIG: JSON.stringify(config), KUBECONFIG: cluster.kubeconfigPath },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const pid = child.pid!;
    let peakKb = 0;
    const sample = async (): Promise<void> => {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    };
    const sampler = setInterval(() => void sample(), 100);
    let readyKb = NaN;
    let readyTicks = NaN;
    const ticks = async (): Promise<number> => {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    };
    const ready = new Promise<number>((resolve) =>
      child!.once('message', () => {
        const at = performance.now();
        void readFile(`/proc/${pid}/status`, 'utf8').then((status) => {
          readyKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
        });
        void ticks().then((t) => (readyTicks = t));
        resolve(at);
      }),
    );
    const deadline = start + 150_000;
    let reported = 0;
    let allReportedAt: number | undefined;
    while (performance.now() < deadline) {
      reported = [...server.state.runs.values()].filter((r) => r.finished_at !== null).length;
      if (!podsRun && allJobsAt !== undefined) break;
      if (reported >= runs) {
        allReportedAt = performance.now();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await sample();
    const endTicks = await ticks();
    clearInterval(sampler);
    unsubscribe();
    const readyAt = await Promise.race([ready, Promise.resolve(NaN)]);
    const completed = [...server.state.runs.values()].filter((r) => r.status === 'completed').length;
    print(`dispatch: agent process started (login, informer, workers) in ${((readyAt - start) / 1000).toFixed(2)} s`);
    print(`dispatch: ${jobs.size}/${runs} Jobs created; ${reported}/${runs} runs reported (${completed} completed)`);
    // The runs reach the agent in the sync right after it is ready.
    const allJobsMs = (allJobsAt ?? NaN) - readyAt;
    const allReportedMs = (allReportedAt ?? NaN) - readyAt;
    const traffic = cluster.traffic();
    return {
      runs, createTasksMs, allJobsMs, allReportedMs, peakRssMb: peakKb / 1024, readyRssMb: readyKb / 1024, cpuMsPerRun: ((endTicks - readyTicks) * 10) / runs, concurrency, maxActiveJobs,
      apiRequests: traffic.requests - trafficBefore.requests,
      apiConnections: traffic.connections - trafficBefore.connections,
    };
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await cluster.close();
    await server.close();
    await redis?.close();
    await rm(root, { recursive: true, force: true });
  }
}

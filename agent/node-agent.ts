import { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LiveTokens } from '../queue/live-tokens.js';
import { RunQueues } from '../queue/run-queues.js';
import { serverScope } from '../queue/server-scope.js';
import { accessCheck, recheckedAccess, type AccessReport } from './cluster/access.js';
import { RunInformer } from './cluster/run-informer.js';
import { clusterReachability } from './cluster/reachability.js';
import { within } from './within.js';
import { reuseConnections } from './cluster/kube-connections.js';
import { ProxyAddress } from './cluster/proxy-address.js';
import { RunObjects } from './cluster/run-objects.js';
import { ConfigError, protocolOf, serverUrlOf, type Config } from './config.js';
import { encryptionHandshake } from './encryption-handshake.js';
import { isolationGateFor } from './isolation/gate.js';
import { IsolationMonitor } from './isolation/monitor.js';
import { IsolationProbe } from './isolation/probe.js';
import { AgentError, ServerResponseError } from './errors.js';
import { nodeSelector } from './kube/names.js';
import { nodeInfo } from './node-info.js';
import type { PolicyDeps } from './protocol/policy.js';
import { JobCapacity } from './runs/capacity.js';
import type { NodeEvents, RunContext, RunMetrics } from './runs/context.js';
import { Intake } from './runs/intake.js';
import { Killer } from './runs/killer.js';
import { Launcher } from './runs/launcher.js';
import { RunMarkers } from './runs/markers.js';
import { Reporter } from './runs/reporter.js';
import { currentIdentity, RunFiles, runFolderAccessProblems } from './runs/run-files.js';
import { DataframeDeletion } from './sessions/dataframe-deletion.js';
import { readDataframeColumns } from './sessions/dataframe-columns.js';
import { SessionFiles } from './sessions/session-files.js';
import { RunWatcher } from './runs/run-watcher.js';
import { TmpSweeper } from './runs/tmp-sweeper.js';
import { VolumeQuota } from './runs/volume-quota.js';
import { ServerClient, serverEndpoints, type NodeIdentity } from './server/client.js';
import { RunsApi } from './server/runs-api.js';
import { ServerSocket } from './server/socket.js';
import { closeInOrder, type CloseStep, type UnfinishedStep } from './shutdown.js';
import { recordNode } from './status/node-record.js';

export interface NodeAgentOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Defaults to the in-cluster service account in a pod, else KUBECONFIG. */
  readonly kubeConfig?: KubeConfig;
  readonly metrics?: NodeMetrics;
  /** Timings, shortened by tests. */
  readonly timings?: {
    readonly resyncIntervalMs?: number;
    readonly reconnectDelayMs?: number;
    readonly loginRetryDelayMs?: number;
    readonly backoffBaseMs?: number;
    readonly backoffMaxMs?: number;
    /** How long a job's temporary folder outlives its last run's objects, and how often that is checked. */
    readonly tmpSweepMs?: number;
    /** How often the runs' usage of the task volume is checked. */
    readonly volumeCheckMs?: number;
    /** How long each step of close() may take (default CLOSE_STEP_TIMEOUT_MS). */
    readonly closeStepTimeoutMs?: number;
  };
}

/**
 * What the agent's metrics observe (implemented with prom-client in queue/metrics/); every hook
 * optional so tests can leave them out.
 */
export interface NodeMetrics extends RunMetrics {
  kubernetesApiError?(verb: string, code: string): void;
  watchRestarted?(): void;
  tokenObtained?(kind: 'login' | 'refresh'): void;
  connectionChanged?(connected: boolean): void;
  /** The parts gauges read at scrape time. */
  observe?(parts: { readonly queues: RunQueues; readonly capacity: JobCapacity }): void;
}

/** What readiness reports: each part the agent needs to do its work. */
export interface AgentHealth {
  readonly loggedIn: boolean;
  /** `sync` received on the current connection. */
  readonly socketConnected: boolean;
  readonly redisReachable: boolean;
  readonly clusterReachable: boolean;
  /** The agent may create and watch its Jobs, Secrets and pods in its namespace, which exists (cluster/access.ts). */
  readonly clusterAccess: boolean;
}

/** The kube config of the agent: in a pod the service account, elsewhere KUBECONFIG or ~/.kube/config. */
export function defaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

/**
 * The node agent: logs in, checks encryption, and wires the server session, the durable
 * queues, the cluster informer and the run modules together. `close()` stops them in reverse
 * order of start; in-flight queue jobs finish or are handed back through their Redis lock.
 */
export class NodeAgent {
  readonly identity: NodeIdentity;
  /** Network isolation of algorithm pods: `verdict()`, `status()`, `onVerdict(listener)` (for the metric). */
  readonly isolation: IsolationMonitor;
  private readonly closers: CloseStep[];
  private readonly logger: Logger;
  private readonly closeTimeout: { readonly timeoutMs?: number };
  private readonly socket: ServerSocket;
  private readonly redis: Redis;
  private readonly clusterReachable: () => Promise<boolean>;
  private readonly checkAccess: () => Promise<AccessReport>;
  /** What the last access check found missing. */
  private accessMissing: readonly string[];
  private closing: Promise<UnfinishedStep[]> | undefined;

  private constructor(parts: {
    identity: NodeIdentity;
    isolation: IsolationMonitor;
    socket: ServerSocket;
    redis: Redis;
    clusterReachable: () => Promise<boolean>;
    checkAccess: () => Promise<AccessReport>;
    accessMissing: readonly string[];
    closers: CloseStep[];
    logger: Logger;
    closeTimeout: { readonly timeoutMs?: number };
  }) {
    this.identity = parts.identity;
    this.isolation = parts.isolation;
    this.socket = parts.socket;
    this.redis = parts.redis;
    this.clusterReachable = parts.clusterReachable;
    this.checkAccess = parts.checkAccess;
    this.accessMissing = parts.accessMissing;
    this.closers = parts.closers;
    this.logger = parts.logger;
    this.closeTimeout = parts.closeTimeout;
  }

  static async start(options: NodeAgentOptions): Promise<NodeAgent> {
    const { config, logger } = options;
    const timings = options.timings ?? {};
    const metrics = options.metrics ?? {};
    const access = runFolderAccessProblems(config.kubernetes.run, currentIdentity());
    if (access.length > 0) throw new ConfigError("the agent's user and group", access);
    const closers: CloseStep[] = [];
    const closeTimeout = timings.closeStepTimeoutMs === undefined ? {} : { timeoutMs: timings.closeStepTimeoutMs };
    const endpoints = serverEndpoints(serverUrlOf(config), config.port, config.api_path);
    const client = new ServerClient({
      endpoints,
      apiKey: config.api_key,
      protocol: protocolOf(config),
      ...(config.keycloak === undefined || config.name === undefined ? {} : { keycloak: { ...config.keycloak, nodeName: config.name } }),
      logger: logger.child({ subsystem: 'server' }),
      onToken: (kind) => metrics.tokenObtained?.(kind),
    });
    try {
      const identity = await loginWithRetry(client, logger, timings.loginRetryDelayMs ?? 10_000);
      logger.info({ ...identity }, 'node identified');
      const cryptor = await encryptionHandshake(config, identity, client, logger);

      const redis = new Redis(config.redis.url, { password: config.redis.password, maxRetriesPerRequest: null, lazyConnect: false });
      closers.unshift({ name: 'Redis connection', close: () => void redis.disconnect() });
      redis.on('error', () => {}); // readiness reports it; ioredis reconnects by itself
      await recordNode(redis, config.queue.prefix, identity);
      // Run ids are a server's: queue jobs and markers are kept apart per server and node id.
      const scope = serverScope(endpoints.base, identity.nodeId);
      const queues = new RunQueues({
        redisUrl: config.redis.url,
        redisPassword: config.redis.password,
        prefix: config.queue.prefix,
        scope,
        logger: logger.child({ subsystem: 'queue' }),
        backoffBaseMs: timings.backoffBaseMs,
        backoffMaxMs: timings.backoffMaxMs,
      });
      closers.unshift({ name: 'queues', close: () => queues.close() });
      await queues.ready();

      const connections = reuseConnections(options.kubeConfig ?? defaultKubeConfig());
      closers.push({ name: 'Kubernetes API connections', close: () => connections.close() });
      const kubeConfig = connections.kubeConfig;
      const namespace = config.kubernetes.namespace;
      // Told at once rather than as every run's `start failed`; the agent goes on (the admin may
      // grant the Role or create the namespace next) and readiness fails until it is fixed.
      const askAccess = accessCheck(kubeConfig, namespace);
      const access = await askAccess();
      if (access.missing.length > 0) logAccessMissing(logger, namespace, access.missing);
      const checkAccess = recheckedAccess(askAccess, { report: access, at: Date.now() });
      const objects = new RunObjects({
        kubeConfig,
        namespace,
        logger: logger.child({ subsystem: 'kubernetes' }),
        onApiError: (verb, code) => metrics.kubernetesApiError?.(verb, code),
      });
      const informer = new RunInformer({
        kubeConfig,
        namespace,
        labelSelector: nodeSelector(identity.nodeId),
        logger: logger.child({ subsystem: 'informer' }),
        onRunChanged: (runId) => watcher.runChanged(runId),
        onWatchError: () => metrics.watchRestarted?.(),
      });
      closers.unshift({ name: 'Job and pod informer', close: () => informer.close() });

      const runs = new RunsApi(client, identity.nodeId);
      const events: NodeEvents = {
        statusChanged: (run, status) =>
          socket.emit('algorithm_status_change', {
            node_id: identity.nodeId,
            status,
            run_id: run.runId,
            task_id: run.taskId,
            collaboration_id: identity.collaborationId,
            organization_id: identity.organizationId,
            parent_id: run.parentId,
          }),
        logLine: (run, line) =>
          socket.emit(
            'algorithm_log',
            { collaboration_id: identity.collaborationId, run_id: run.runId, task_id: run.taskId, log: line },
            { onlyWhileConnected: true },
          ),
      };
      const sessions = new SessionFiles(config.kubernetes.task_volume.mount_path, config.kubernetes.run.fs_group, readDataframeColumns);
      const capacity = new JobCapacity(informer, config.queue.max_active_jobs);
      const proxyAddress = new ProxyAddress(config.proxy.url);
      metrics.observe?.({ queues, capacity });
      const ctx: RunContext = {
        config,
        identity,
        runs,
        objects,
        informer,
        queues,
        markers: new RunMarkers(redis, `${config.queue.prefix}:${scope}`),
        liveTokens: new LiveTokens(redis, config.queue.prefix),
        files: new RunFiles(config.kubernetes.task_volume.mount_path, config.kubernetes.run.fs_group),
        sessions,
        proxyAddress,
        isolationGate: isolationGateFor(config, kubeConfig.getCurrentCluster()?.server),
        capacity,
        cryptor,
        events,
        policyDeps: policyDeps(client),
        logger: logger.child({ subsystem: 'runs' }),
        metrics,
        now: () => new Date(),
      };
      const watcher = new RunWatcher(ctx);
      closers.unshift({ name: 'run watcher', close: () => watcher.close() });
      await informer.start();

      // Launches wait for the probe's verdict (unless isolation.allow_unenforced); runs stay queued.
      const isolation = new IsolationMonitor({
        config: config.isolation,
        probe: (signal) => probe.run(signal),
        logger: logger.child({ subsystem: 'isolation' }),
      });
      const probe = new IsolationProbe({ kubeConfig, nodeId: identity.nodeId, config, proxyAddress, logger: logger.child({ subsystem: 'isolation' }) });
      closers.unshift({ name: 'isolation monitor', close: () => isolation.close() });
      isolation.start();

      const sweeper = new TmpSweeper({
        mountPath: config.kubernetes.task_volume.mount_path,
        nodeId: identity.nodeId,
        informer,
        objects,
        logger: logger.child({ subsystem: 'runs' }),
        graceMs: timings.tmpSweepMs ?? 60_000,
      });
      closers.unshift({ name: 'temporary-folder sweeper', close: () => sweeper.close() });
      sweeper.start();
      const quota = new VolumeQuota({
        mountPath: config.kubernetes.task_volume.mount_path,
        maxBytes: config.kubernetes.run.max_volume_bytes,
        informer,
        queues,
        logger: logger.child({ subsystem: 'runs' }),
        intervalMs: timings.volumeCheckMs ?? 5_000,
      });
      closers.unshift({ name: 'task volume quota', close: () => quota.close() });
      quota.start();

      const launcher = new Launcher(ctx, isolation);
      const reporter = new Reporter(ctx);
      queues.startWorkers(
        { launch: (job, token) => launcher.process(job, token), report: (job) => reporter.process(job) },
        { launch: config.queue.concurrency, report: config.queue.concurrency },
      );
      const intake = new Intake(runs, queues, logger.child({ subsystem: 'intake' }));
      closers.unshift({ name: 'run intake', close: () => intake.close() });
      const killer = new Killer(ctx);
      const deletion = new DataframeDeletion(sessions, identity.nodeId, (event, payload) => socket.emit(event, payload), logger.child({ subsystem: 'sessions' }));

      let fatal: (error: unknown) => void = () => {};
      const socket: ServerSocket = new ServerSocket({
        client,
        logger: logger.child({ subsystem: 'socket' }),
        reconnectDelayMs: timings.reconnectDelayMs,
        handlers: {
          onSync: () => {
            if (config.share_config) socket.emit('node_info_update', nodeInfo(config, isolation.verdict()));
            void intake.take();
            if (protocolOf(config) === 5) void deletion.reconcile((sessionId) => runs.sessionDataframes(sessionId));
          },
          onNewTask: (event) => void intake.take(event.id),
          onKillContainers: (event) => void killer.handle(event),
          onDeleteDataframe: (event) => void deletion.handle(event),
          onFatal: (error) => fatal(error),
          onStateChange: (connected) => metrics.connectionChanged?.(connected),
        },
      });
      closers.unshift({ name: 'server socket', close: () => socket.close() });
      isolation.onVerdict((status) => {
        if (config.share_config && socket.connected) socket.emit('node_info_update', nodeInfo(config, status.verdict));
      });
      const resync = setInterval(() => {
        if (socket.connected) void intake.take();
      }, timings.resyncIntervalMs ?? 10 * 60_000);
      closers.unshift({ name: 'resync timer', close: () => clearInterval(resync) });

      const clusterReachable = clusterReachability(kubeConfig, namespace, nodeSelector(identity.nodeId));
      const agent = new NodeAgent({ identity, isolation, socket, redis, clusterReachable, checkAccess, accessMissing: access.missing, closers, logger, closeTimeout });
      fatal = (error) => {
        logger.fatal({ err: error }, 'the server no longer accepts this node; stopping');
        void agent.close();
      };
      socket.start();
      return agent;
    } catch (error) {
      await closeInOrder(closers, { logger, ...closeTimeout });
      throw error;
    }
  }

  /** Each readiness check; none waits longer than a few seconds (the agent's Redis client itself never gives up). */
  async health(): Promise<AgentHealth> {
    const redisPing =
      this.redis.status === 'ready'
        ? this.redis.ping().then(
            (answer) => answer === 'PONG',
            () => false,
          )
        : Promise.resolve(false);
    const [redisReachable, clusterReachable, access] = await Promise.all([within(redisPing, 3_000, false), this.clusterReachable(), this.checkAccess()]);
    this.accessMissing = access.missing;
    return {
      loggedIn: this.closing === undefined,
      socketConnected: this.socket.connected,
      redisReachable,
      clusterReachable,
      clusterAccess: access.missing.length === 0,
    };
  }

  /** What the last readiness check found missing, in words (for `/readyz`). */
  problems(): readonly string[] {
    return this.accessMissing;
  }

  /**
   * Stops everything in reverse order of start, each step bounded in time and run whatever the
   * earlier ones did; resolves with the steps that did not finish (already logged). Idempotent.
   */
  close(): Promise<UnfinishedStep[]> {
    this.closing ??= closeInOrder(this.closers, { logger: this.logger, ...this.closeTimeout });
    return this.closing;
  }
}

function logAccessMissing(logger: Logger, namespace: string, missing: readonly string[]): void {
  const error = new AgentError('V6_KUBE_ACCESS_MISSING', `the agent cannot run tasks in namespace ${namespace}: it ${missing.join('; it ')}`, { retryable: true });
  logger.error({ code: error.code, namespace, missing }, error.message);
}

async function loginWithRetry(client: ServerClient, logger: Logger, delayMs: number): Promise<NodeIdentity> {
  for (;;) {
    try {
      return await client.login();
    } catch (error) {
      if ((error as { retryable?: boolean }).retryable !== true) throw error;
      logger.warn({ err: error }, `login failed; retrying in ${delayMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** The server lookups the policies need. Registry digests cannot be read without a container runtime: undefined. */
function policyDeps(client: ServerClient): PolicyDeps {
  return {
    digestOf: async () => undefined,
    storeUrl: async (storeId) => {
      try {
        return (await client.request<{ url: string }>('GET', `algorithmstore/${storeId}`)).url;
      } catch (error) {
        if (error instanceof ServerResponseError && error.status === 404) return undefined;
        throw error;
      }
    },
    organizationsByName: async (name) =>
      (await client.request<{ data: Array<{ id: number; name: string }> }>('GET', 'organization', { query: { name } })).data,
  };
}

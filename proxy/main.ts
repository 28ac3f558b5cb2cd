/**
 * `v6-node proxy --config <file>`: the proxy as its own process, next to the agent. Reads the
 * node config, the organization's private key when encryption is enabled, and the live tokens
 * the agent keeps in Redis; serves its metrics and probes on metrics.proxy_port; stops on SIGTERM/SIGINT.
 */
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../agent/config.js';
import { DummyCryptor, RsaCryptor, type Cryptor } from '../agent/protocol/encryption.js';
import { EventLoopWatch, startHealthServer } from '../agent/health-server.js';
import { closeInOrder } from '../agent/shutdown.js';
import { within } from '../agent/within.js';
import { LiveTokens } from '../queue/live-tokens.js';
import { ProxyMetrics } from '../queue/metrics/proxy-metrics.js';
import { startProxy, type RunningProxy } from './proxy.js';

export interface ProxyProcess extends RunningProxy {
  /** `/metrics`, `/livez`, `/readyz` on metrics.proxy_port. */
  readonly metricsUrl: string;
}

/** Starts the proxy for the config file at `configPath`; resolves once it listens. */
export async function runProxyCommand(configPath: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyProcess> {
  const { config, warnings } = await loadConfig(configPath, env);
  // Written synchronously: the lines logged just before the process exits are never lost.
  const logger = pino({ level: config.logging.level }, pino.destination({ dest: 1, sync: true })).child({ component: 'proxy' });
  for (const warning of warnings) logger.warn(warning);
  const cryptor = await nodeCryptor(config);
  // Token checks fail fast while Redis is away (the algorithm gets a 503) instead of queueing up.
  const redis = new Redis(config.redis.url, { password: config.redis.password, maxRetriesPerRequest: 1 });
  redis.on('error', (error: Error) => logger.warn({ err: error }, 'Redis connection error'));
  let served: ProxyProcess;
  try {
    served = await serveProxy({ config, logger, cryptor, redis });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  let closing: Promise<void> | undefined;
  // The command ends the process once closed: nothing left open (a keep-alive connection, a
  // Redis reconnect timer) can keep it past the grace period.
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'Stopping the proxy');
    void close().then(() => process.exit(0));
  };
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      const unfinished = await closeInOrder(
        [
          { name: 'proxy and its metrics endpoint', close: () => served.close() },
          // Nothing the proxy sent Redis needs flushing: disconnecting cannot wait on a Redis that is away.
          { name: 'Redis connection', close: () => redis.disconnect() },
        ],
        { logger },
      );
      if (unfinished.length === 0) logger.info('Proxy stopped');
      else logger.warn({ unfinished: unfinished.map((step) => step.name) }, `Proxy stopped without finishing: ${unfinished.map((step) => step.name).join(', ')}`);
    })());
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return { url: served.url, port: served.port, metricsUrl: served.metricsUrl, close };
}

export interface ServeProxyOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly cryptor: Cryptor;
  /** The live tokens' Redis; the caller closes it. */
  readonly redis: Redis;
  readonly host?: string;
  /** Override config.proxy.listen_port and config.metrics.proxy_port (0: any free port). */
  readonly listenPort?: number;
  readonly metricsPort?: number;
  readonly closeGraceMs?: number;
  readonly defaultMetrics?: boolean;
}

/** The proxy with its metrics and probes on their own port; `close()` stops both (not Redis). */
export async function serveProxy(options: ServeProxyOptions): Promise<ProxyProcess> {
  const { config, logger, redis } = options;
  const metrics = new ProxyMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const health = await startHealthServer({
    port: options.metricsPort ?? config.metrics.proxy_port,
    ...(options.host === undefined ? {} : { host: options.host }),
    registry: metrics.registry,
    liveness: new EventLoopWatch(),
    logger,
    // Ready while container tokens can be checked.
    readiness: async () => ({
      redisReachable: await within(
        redis.ping().then(
          (answer) => answer === 'PONG',
          () => false,
        ),
        3_000,
        false,
      ),
    }),
  });
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({
      config,
      logger,
      cryptor: options.cryptor,
      liveTokens: new LiveTokens(redis, config.queue.prefix),
      metrics,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.listenPort === undefined ? {} : { listenPort: options.listenPort }),
      ...(options.closeGraceMs === undefined ? {} : { closeGraceMs: options.closeGraceMs }),
    });
  } catch (error) {
    await health.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    url: proxy.url,
    port: proxy.port,
    metricsUrl: health.url,
    close: () =>
      (closing ??= (async () => {
        await proxy.close();
        await health.close();
      })()),
  };
}

/** The cryptor the node uses: RSA with the organization's private key, or base64 only. */
async function nodeCryptor(config: Config): Promise<Cryptor> {
  if (!config.encryption.enabled) return new DummyCryptor();
  return RsaCryptor.fromPem(await readFile(config.encryption.private_key ?? ''));
}

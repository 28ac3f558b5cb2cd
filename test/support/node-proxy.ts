// A node's proxy for tests and the sandbox, as `v6-node proxy` composes it: its own Redis
// connection for the live container tokens, listening on config.proxy.listen_port on loopback.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../agent/config.js';
import type { Cryptor } from '../../agent/protocol/encryption.js';
import { serveProxy, type ProxyProcess } from '../../proxy/main.js';

export interface NodeProxy {
  readonly proxy: ProxyProcess;
  /** Stops the proxy, then its Redis connection. */
  close(): Promise<void>;
}

export async function startNodeProxy(config: Config, cryptor: Cryptor, logger: Logger, closeGraceMs = 1000): Promise<NodeProxy> {
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const proxy = await serveProxy({ config, logger, cryptor, redis, host: '127.0.0.1', metricsPort: 0, closeGraceMs });
  return {
    proxy,
    close: async () => {
      await proxy.close();
      redis.disconnect();
    },
  };
}

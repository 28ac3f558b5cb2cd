// The development vantage6 4.x server: REST API under `apiPath` and socket.io /tasks on one
// node:http server, with in-memory state, an outage switch (suspend/resume) and fault hooks.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { TokenService } from './auth/tokens.js';
import type { ServerContext } from './context.js';
import { Faults } from './http/faults.js';
import { createApiListener } from './http/handler.js';
import { Router } from './http/router.js';
import { registerBlobstreamRoutes } from './resources/blobstream.js';
import { registerEntityRoutes } from './resources/entities.js';
import { registerKillRoutes } from './resources/kill.js';
import { registerResultRoutes } from './resources/result.js';
import { registerRunRoutes } from './resources/run.js';
import { registerTaskRoutes } from './resources/task.js';
import { registerTokenRoutes } from './resources/token.js';
import { registerVersionRoute } from './resources/version.js';
import { attachTaskEvents } from './socket/events.js';
import { defaultFixtures, type Fixtures } from './state/fixtures.js';
import { DevServerState } from './state/model.js';

export interface DevServerOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port, kept across suspend/resume). */
  port?: number;
  /** Default `/api`. */
  apiPath?: string;
  fixtures?: Fixtures;
  jwtSecret?: string;
  /** Default 6 h, like the server's `token_expires_hours`. */
  accessTokenLifetimeSeconds?: number;
  /** Default 48 h. */
  refreshTokenLifetimeSeconds?: number;
  /** What `GET blobstream/status` reports; default false. */
  blobStoreEnabled?: boolean;
  /** Used for JWT iat/exp and every timestamp; default the wall clock. */
  clock?: () => Date;
  /** Used by the fault hooks; default Math.random. */
  random?: () => number;
}

export interface DevServer {
  /** e.g. `http://127.0.0.1:41234` (socket.io lives here, at `/socket.io/`). */
  readonly url: string;
  /** e.g. `/api`; the REST base is `url + apiPath`. */
  readonly apiPath: string;
  readonly port: number;
  readonly fixtures: Fixtures;
  /** Read access for tests: runs, tasks, presence (online, last_seen, node_info), patches, events. */
  readonly state: DevServerState;
  readonly faults: Faults;
  /** A server outage: stops listening and drops every connection (HTTP and socket.io); keeps state. */
  suspend(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const host = options.host ?? '127.0.0.1';
  const apiPath = options.apiPath ?? '/api';
  const clock = options.clock ?? (() => new Date());
  const fixtures = options.fixtures ?? defaultFixtures();
  const state = new DevServerState(fixtures, clock);
  const tokens = new TokenService(state, {
    secret: options.jwtSecret ?? 'dev-server-jwt-secret',
    accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds ?? 6 * 3600,
    refreshTokenLifetimeSeconds: options.refreshTokenLifetimeSeconds ?? 48 * 3600,
    clock,
  });
  const faults = new Faults(options.random);
  const router = new Router();
  // Our listener must exist before socket.io wraps it: it then only sees non-/socket.io/ requests.
  const httpServer = createServer(createApiListener(router, apiPath, faults));
  const connections = new Set<Socket>();
  httpServer.on('connection', (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  const events = attachTaskEvents(httpServer, state, tokens);
  const ctx: ServerContext = { state, tokens, apiPath, blobStoreEnabled: options.blobStoreEnabled ?? false, emit: events.emit };
  for (const register of [
    registerTokenRoutes, registerEntityRoutes, registerRunRoutes, registerTaskRoutes,
    registerResultRoutes, registerBlobstreamRoutes, registerKillRoutes, registerVersionRoute,
  ]) {
    register(router, ctx);
  }

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, host, () => {
        httpServer.off('error', reject);
        const address = httpServer.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  const port = await listen(options.port ?? 0);

  const stopListening = async (server: Server): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    events.disconnectAll();
    for (const socket of connections) socket.destroy();
    await closed;
  };
  let closing: Promise<void> | undefined;

  return {
    url: `http://${host}:${port}`,
    apiPath,
    port,
    fixtures,
    state,
    faults,
    suspend: () => stopListening(httpServer),
    resume: async () => {
      if (closing || httpServer.listening) return;
      await listen(port);
    },
    close: () =>
      (closing ??= (async () => {
        await stopListening(httpServer);
        await events.close();
      })()),
  };
}

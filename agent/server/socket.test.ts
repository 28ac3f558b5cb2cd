// ServerSocket against the development server over real socket.io: `sync` as the proof of login,
// its own reconnection with a fresh token per attempt, expired_token / invalid_token, ping,
// a refused API key on re-login, and close().
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { startDevServer, type DevServer, type DevServerOptions } from '../../test/dev-server/index.js';
import { manualClock, serverFor, until } from '../../test/dev-server/testkit.js';
import { ServerClient, serverEndpoints } from './client.js';
import { ServerSocket, type KillContainersEvent, type NewTaskEvent } from './socket.js';

const logger = pino({ level: process.env.V6_TEST_LOG ?? 'silent' });
const NODE = 1;

interface Calls {
  syncs: number;
  fatal: unknown[];
  newTasks: NewTaskEvent[];
  kills: KillContainersEvent[];
  states: boolean[];
  tokens: Array<'login' | 'refresh'>;
}

interface Session {
  client: ServerClient;
  socket: ServerSocket;
  calls: Calls;
}

/** A client and socket for node 1 of `server`; `clientNow` lets the client's clock differ from the server's. */
function session(
  t: ExecutionContext,
  server: DevServer,
  options: { clientNow?: () => number; apiKey?: string; syncTimeoutMs?: number } = {},
): Session {
  const calls: Calls = { syncs: 0, fatal: [], newTasks: [], kills: [], states: [], tokens: [] };
  const client = new ServerClient({
    endpoints: serverEndpoints('http://127.0.0.1', server.port, server.apiPath),
    apiKey: options.apiKey ?? server.fixtures.nodes.find((n) => n.id === NODE)!.api_key,
    logger,
    now: options.clientNow,
    refreshBeforeExpirySeconds: 5,
    onToken: (kind) => calls.tokens.push(kind),
  });
  const socket = new ServerSocket({
    client,
    logger,
    reconnectDelayMs: 20,
    reconnectDelayMaxMs: 100,
    firstPingMs: 50,
    pingIntervalMs: 100,
    syncTimeoutMs: options.syncTimeoutMs,
    handlers: {
      onSync: () => (calls.syncs += 1),
      onNewTask: (event) => calls.newTasks.push(event),
      onKillContainers: (event) => calls.kills.push(event),
      onFatal: (error) => calls.fatal.push(error),
      onStateChange: (connected) => calls.states.push(connected),
    },
  });
  t.teardown(() => socket.close());
  return { client, socket, calls };
}

function online(server: DevServer): boolean {
  return server.state.presence.get(NODE)?.online === true;
}

async function started(t: ExecutionContext, options: DevServerOptions = {}) {
  const clock = manualClock();
  const server = await serverFor(t, { clock: clock.now, ...options });
  return { server, clock, now: () => clock.now().getTime() };
}

/** A started socket of node 1, after its first sync from a fresh server sharing the client's clock. */
async function synced(t: ExecutionContext, options: DevServerOptions = {}, sessionOptions: { syncTimeoutMs?: number } = {}) {
  const { server, clock, now } = await started(t, options);
  const { socket, calls } = session(t, server, { clientNow: now, ...sessionOptions });
  socket.start();
  await until(() => calls.syncs === 1);
  return { server, clock, socket, calls };
}

test('sync arrives, onSync is called and the node is online at the server', async (t) => {
  const { server, now } = await started(t);
  const { socket, calls } = session(t, server, { clientNow: now });
  t.false(socket.connected);
  socket.start();
  await until(() => calls.syncs === 1);
  t.true(socket.connected);
  t.true(online(server));
  t.deepEqual(calls.states, [true]);
  t.deepEqual(calls.tokens, ['login']);
});

test('after a server outage the socket reconnects by itself and gets sync again', async (t) => {
  const { server, socket, calls } = await synced(t);

  await server.suspend();
  await until(() => !socket.connected);
  t.false(online(server));
  await server.resume();
  await until(() => calls.syncs === 2);
  t.true(socket.connected);
  t.true(online(server));
  t.deepEqual(calls.states, [true, false, true]);
  t.deepEqual(calls.tokens, ['login'], 'the token was still good: no new login');
});

test('an expired token on connect: expired_token, refresh, reconnect, sync', async (t) => {
  // The client's clock stands still, so it connects with a token the server's clock has expired.
  const clientClock = manualClock();
  const { server, clock } = await started(t, { accessTokenLifetimeSeconds: 30, refreshTokenLifetimeSeconds: 3600 });
  const { client, socket, calls } = session(t, server, { clientNow: () => clientClock.now().getTime() });
  await client.login();
  clock.advance(60);
  socket.start();
  await until(() => calls.syncs === 1);
  t.deepEqual(calls.tokens, ['login', 'refresh']);
  t.true(online(server));
  t.deepEqual(calls.fatal, []);
});

test('invalid_token (the server restarted with another JWT secret) means a full login again, then sync', async (t) => {
  const first = await startDevServer({ jwtSecret: 'first-secret' });
  const servers = [first];
  t.teardown(async () => {
    for (const server of servers) await server.close();
  });
  const { socket, calls } = session(t, first);
  socket.start();
  await until(() => calls.syncs === 1);

  await first.close();
  await until(() => !socket.connected);
  const second = await startDevServer({ jwtSecret: 'second-secret', port: first.port });
  servers.push(second);
  await until(() => calls.syncs === 2);
  t.deepEqual(calls.tokens, ['login', 'login'], 'the old token was refused, so the node logged in again');
  t.true(second.state.presence.get(NODE)?.online);
  t.deepEqual(calls.fatal, []);
});

test('ping reaches the server: last_seen moves on', async (t) => {
  const { server, clock } = await synced(t);
  const seenAtSync = server.state.presence.get(NODE)?.last_seen;
  t.truthy(seenAtSync);
  clock.advance(120);
  await until(() => server.state.presence.get(NODE)?.last_seen !== seenAtSync);
  t.is(server.state.presence.get(NODE)?.last_seen, server.state.now());
});

test('an API key refused on re-login is fatal: onFatal, and no more reconnecting', async (t) => {
  const { server, clock, socket, calls } = await synced(t, { accessTokenLifetimeSeconds: 30, refreshTokenLifetimeSeconds: 60 });

  // The admin revokes the key; both tokens expire, so the node must log in again on reconnect.
  server.fixtures.nodes.find((n) => n.id === NODE)!.api_key = '99999999-9999-4999-8999-999999999999';
  clock.advance(120);
  await server.suspend();
  await server.resume();
  await until(() => calls.fatal.length === 1);
  t.is((calls.fatal[0] as { code?: string }).code, 'V6_AUTH_REJECTED');
  t.false(socket.connected);
  t.is(calls.syncs, 1);
  t.false(online(server));
});

test('a connection the server never confirms with sync is dropped, and the node logs in again', async (t) => {
  // The server no longer knows node 1 (deleted by its admin): its token still has a good
  // signature, so the server neither syncs nor says expired/invalid; the connection just sits.
  const { server, socket, calls } = await synced(t, {}, { syncTimeoutMs: 200 });
  const index = server.fixtures.nodes.findIndex((n) => n.id === NODE);
  server.fixtures.nodes.splice(index, 1);
  await server.suspend();
  await server.resume();
  await until(() => calls.fatal.length === 1);
  t.is((calls.fatal[0] as { code?: string }).code, 'V6_AUTH_REJECTED', 'the fresh login told the node its key is gone');
  t.is(calls.syncs, 1);
  t.false(socket.connected);
});

test('close() is idempotent and stops reconnecting', async (t) => {
  const { server, socket, calls } = await synced(t);

  await server.suspend();
  await until(() => !socket.connected);
  socket.close();
  socket.close();
  await server.resume();
  // Long enough for many reconnect attempts at 20–100 ms had the socket not stopped.
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.is(calls.syncs, 1);
  t.false(online(server));
  t.false(socket.connected);
  t.deepEqual(calls.states, [true, false]);
});

test('close() before the first connection completes leaves nothing connected', async (t) => {
  const { server, now } = await started(t);
  const { socket, calls } = session(t, server, { clientNow: now });
  socket.start();
  socket.close();
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(calls.syncs, 0);
  t.false(online(server));
});

test('new_task and kill_containers reach their handlers', async (t) => {
  const { server, calls } = await synced(t);
  const { researcher, plainTask } = await import('../../test/dev-server/testkit.js');
  const user = await researcher(server);
  const task = await plainTask(user, [1]);
  await until(() => calls.newTasks.length === 1);
  t.is(calls.newTasks[0]?.id, task.id);
  await user.killNodeTasks(NODE);
  await until(() => calls.kills.length === 1);
  t.deepEqual(calls.kills[0], { node_id: NODE, collaboration_id: 1 });
});

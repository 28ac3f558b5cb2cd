// ServerClient against the development server over real HTTP: login and identity, token refresh
// before expiry on an injected clock, one retry after a 401, and the typed error for each failure.
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { freePort } from '../../test/support/ports.js';
import { manualClock, serverFor } from '../../test/dev-server/testkit.js';
import type { DevServer, DevServerOptions } from '../../test/dev-server/index.js';
import {
  AuthRejectedError,
  ServerBadResponseError,
  ServerResponseError,
  ServerUnreachableError,
  ServerVersionError,
} from '../errors.js';
import { ServerClient, serverEndpoints, type ServerClientOptions } from './client.js';

const logger = pino({ level: process.env.V6_TEST_LOG ?? 'silent' });

interface Harness {
  server: DevServer;
  client: ServerClient;
  clock: ReturnType<typeof manualClock>;
  /** Every token the client obtained, in order. */
  tokens: Array<'login' | 'refresh'>;
  /** Every request the client sent: `METHOD /path`. */
  sent: string[];
}

/** A counting dispatcher: the requests the client really sent, whatever it retried. */
function counting(sent: string[], t: ExecutionContext): Dispatcher {
  const agent = new Agent();
  t.teardown(() => agent.close());
  return agent.compose((dispatch) => (options, handler) => {
    sent.push(`${options.method} ${options.path.split('?')[0]}`);
    return dispatch(options, handler);
  });
}

/**
 * A dev server and a client for node `nodeId`. By default both share one manual clock; a test
 * that wants the client to believe in a token the server has expired gives it `clientNow`.
 */
async function harness(
  t: ExecutionContext,
  serverOptions: DevServerOptions = {},
  clientOptions: Partial<ServerClientOptions> & { nodeId?: number } = {},
): Promise<Harness> {
  const clock = manualClock();
  const server = await serverFor(t, { clock: clock.now, ...serverOptions });
  const node = server.fixtures.nodes.find((n) => n.id === (clientOptions.nodeId ?? 1))!;
  const tokens: Array<'login' | 'refresh'> = [];
  const sent: string[] = [];
  const client = new ServerClient({
    endpoints: serverEndpoints('http://127.0.0.1', server.port, server.apiPath),
    apiKey: node.api_key,
    logger,
    now: () => clock.now().getTime(),
    dispatcher: counting(sent, t),
    onToken: (kind) => tokens.push(kind),
    ...clientOptions,
  });
  return { server, client, clock, tokens, sent };
}

test('a config for a 5 hub against a 4.x server is refused before any login, naming the keys to change; the version is asked without a token', async (t) => {
  const { client, tokens, sent } = await harness(t, {}, { protocol: 5, keycloak: { url: 'http://127.0.0.1:9', realm: 'vantage6', nodeName: 'alpha' } });
  const error = await t.throwsAsync(client.login(), { instanceOf: ServerVersionError });
  t.false(error.retryable);
  t.regex(error.message, /is vantage6 4\.14\.0, but the config is for vantage6 5: for a vantage6 4\.x server set server_url instead of hq_url/);
  t.deepEqual(tokens, []);
  t.deepEqual(sent, ['GET /api/version']);
});

test('login reads the identity: node, organization and collaboration', async (t) => {
  const { client, tokens } = await harness(t, {}, { nodeId: 4 });
  const identity = await client.login();
  t.deepEqual(identity, {
    nodeId: 4,
    nodeName: 'beta-encrypted',
    organizationId: 2,
    organizationName: identity.organizationName,
    collaborationId: 2,
  });
  t.truthy(identity.organizationName);
  t.deepEqual(tokens, ['login']);
});

test('an api key the server does not recognise is AuthRejectedError, not retryable, naming api_key', async (t) => {
  const { client } = await harness(t, {}, { apiKey: '11111111-2222-4333-8444-555555555555' });
  const error = await t.throwsAsync(client.login(), { instanceOf: AuthRejectedError });
  t.is(error.code, 'V6_AUTH_REJECTED');
  t.false(error.retryable);
  t.regex(error.message, /api_key/);
});

test('an api key that is not even a UUID is AuthRejectedError naming api_key, too', async (t) => {
  const { client } = await harness(t, {}, { apiKey: 'not-a-uuid' });
  const error = await t.throwsAsync(client.login(), { instanceOf: AuthRejectedError });
  t.false(error.retryable);
  t.regex(error.message, /api_key/);
});

test('the access token is refreshed before it expires, once, however many requests want it', async (t) => {
  const { client, clock, tokens } = await harness(
    t,
    { accessTokenLifetimeSeconds: 60 },
    { refreshBeforeExpirySeconds: 10 },
  );
  await client.login();
  const first = await client.accessToken();

  clock.advance(45); // 15 s left: more than the margin
  t.is(await client.accessToken(), first);
  await client.request('GET', 'node/1');
  t.deepEqual(tokens, ['login']);

  clock.advance(10); // 5 s left: inside the margin
  await Promise.all([client.request('GET', 'node/1'), client.request('GET', 'organization/1'), client.request('GET', 'collaboration/1')]);
  t.deepEqual(tokens, ['login', 'refresh'], 'concurrent requests share one refresh');
  const second = await client.accessToken();
  t.not(second, first);

  clock.advance(30); // the first token has expired at the server; the second has 25 s left
  await t.notThrowsAsync(client.request('GET', 'node/1'));
  t.deepEqual(tokens, ['login', 'refresh']);
});

test('an expired refresh token means a full login again', async (t) => {
  const { client, clock, tokens, sent } = await harness(
    t,
    { accessTokenLifetimeSeconds: 30, refreshTokenLifetimeSeconds: 60 },
    { refreshBeforeExpirySeconds: 5 },
  );
  await client.login();
  clock.advance(120); // both tokens are past their expiry
  sent.length = 0;
  await t.notThrowsAsync(client.request('GET', 'node/1'));
  t.deepEqual(tokens, ['login', 'login']);
  t.deepEqual(sent, ['POST /api/token/refresh', 'POST /api/token/node', 'GET /api/node/1']);
});

test('a 401 is retried once with a new token', async (t) => {
  // The client's clock stands still, so it trusts a token the server's clock has expired.
  const clientClock = manualClock();
  const { client, clock, tokens, sent } = await harness(
    t,
    { accessTokenLifetimeSeconds: 30, refreshTokenLifetimeSeconds: 3600 },
    { now: () => clientClock.now().getTime(), refreshBeforeExpirySeconds: 5 },
  );
  await client.login();
  clock.advance(60);
  sent.length = 0;
  const node = await client.request<{ id: number }>('GET', 'node/1');
  t.is(node.id, 1);
  t.deepEqual(sent, ['GET /api/node/1', 'POST /api/token/refresh', 'GET /api/node/1']);
  t.deepEqual(tokens, ['login', 'refresh']);
});

test('a 401 that persists is retried only once, then is a ServerResponseError that is not retryable', async (t) => {
  const { client, sent } = await harness(t);
  await client.login();
  sent.length = 0;
  // Node 1 is not in collaboration 2, so the server refuses node 3's record with 401 each time.
  const error = await t.throwsAsync(client.request('GET', 'node/3'), { instanceOf: ServerResponseError });
  t.is(error.status, 401);
  t.false(error.retryable);
  t.deepEqual(sent, ['GET /api/node/3', 'POST /api/token/refresh', 'GET /api/node/3']);
});

test('the server down is ServerUnreachableError, retryable; back up, the same client works again', async (t) => {
  const { server, client } = await harness(t);
  await client.login();
  await server.suspend();
  const error = await t.throwsAsync(client.request('GET', 'node/1'), { instanceOf: ServerUnreachableError });
  t.is(error.code, 'V6_SERVER_UNREACHABLE');
  t.true(error.retryable);
  await server.resume();
  await t.notThrowsAsync(client.request('GET', 'node/1'));
});

test('login to a port where nothing listens is ServerUnreachableError', async (t) => {
  const port = await freePort();
  const client = new ServerClient({ endpoints: serverEndpoints('http://127.0.0.1', port, '/api'), apiKey: '00000000-0000-4000-8000-000000000001', logger });
  const error = await t.throwsAsync(client.login(), { instanceOf: ServerUnreachableError });
  t.true(error.retryable);
});

test('an answer that is not JSON is ServerBadResponseError', async (t) => {
  const { server, client } = await harness(t);
  await client.login();
  server.faults.set({ garbageJsonRate: 1 });
  const error = await t.throwsAsync(client.request('GET', 'node/1'), { instanceOf: ServerBadResponseError });
  t.is(error.code, 'V6_SERVER_BAD_RESPONSE');
});

test('a 4xx is a ServerResponseError that is not retryable, a 5xx one that is', async (t) => {
  const { server, client } = await harness(t);
  await client.login();
  const notFound = await t.throwsAsync(client.request('GET', 'node/999'), { instanceOf: ServerResponseError });
  t.is(notFound.status, 404);
  t.false(notFound.retryable);
  t.regex(notFound.message, /not found/);

  server.faults.set({ unavailableRate: 1 });
  const unavailable = await t.throwsAsync(client.request('GET', 'node/1'), { instanceOf: ServerResponseError });
  t.is(unavailable.status, 503);
  t.true(unavailable.retryable);
});

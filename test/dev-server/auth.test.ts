import test from 'ava';
import { decodeJwt, signJwt } from './auth/jwt.js';
import { api, manualClock, serverFor } from './testkit.js';

test('node login answers tokens, urls and a node JWT with an int sub', async (t) => {
  const clock = manualClock();
  const server = await serverFor(t, { clock: clock.now, accessTokenLifetimeSeconds: 30 });
  const answer = await api(server, 'POST', 'token/node', undefined, { api_key: server.fixtures.nodes[1]?.api_key });
  t.is(answer.status, 200);
  const body = answer.body as Record<string, string>;
  t.deepEqual(Object.keys(body).sort(), ['access_token', 'node_url', 'refresh_token', 'refresh_url']);
  t.is(body.refresh_url, '/api/token/refresh');
  t.is(body.node_url, '/api/node/2');
  t.is(answer.headers.get('jwt-token'), body.access_token ?? null);
  const claims = decodeJwt(body.access_token ?? '');
  t.is(claims.sub, 2);
  t.is(claims.client_type, 'node');
  t.deepEqual(claims.roles, []);
  t.is(claims.exp, (claims.iat as number) + 30);
});

test('node login refuses a non-UUID api key with 400 and an unknown one with 401', async (t) => {
  const server = await serverFor(t);
  const bad = await api(server, 'POST', 'token/node', undefined, { api_key: 'not-a-uuid' });
  t.is(bad.status, 400);
  t.like(bad.body, { msg: 'Request body is incorrect', errors: { api_key: ['API key is not a valid UUID'] } });
  const unknown = await api(server, 'POST', 'token/node', undefined, { api_key: '11111111-2222-4333-8444-555555555555' });
  t.is(unknown.status, 401);
  t.deepEqual(unknown.body, { msg: 'Api key is not recognized!' });
});

test('an expired access token gets 401 "Token has expired" and the refresh token gets a new one', async (t) => {
  const clock = manualClock();
  const server = await serverFor(t, { clock: clock.now, accessTokenLifetimeSeconds: 5, refreshTokenLifetimeSeconds: 60 });
  const login = (await api(server, 'POST', 'token/node', undefined, { api_key: server.fixtures.nodes[0]?.api_key })).body as Record<string, string>;
  t.is((await api(server, 'GET', 'node/1', login.access_token)).status, 200);
  t.is((await api(server, 'POST', 'token/refresh', login.access_token)).status, 422, 'an access token cannot refresh');
  clock.advance(6);
  const expired = await api(server, 'GET', 'node/1', login.access_token);
  t.is(expired.status, 401);
  t.deepEqual(expired.body, { msg: 'Token has expired' });

  const refreshed = await api(server, 'POST', 'token/refresh', login.refresh_token);
  t.is(refreshed.status, 200);
  const fresh = refreshed.body as Record<string, string>;
  t.is(fresh.refresh_url, '/api/token/refresh');
  t.is((await api(server, 'GET', 'node/1', fresh.access_token)).status, 200);
  clock.advance(61);
  t.is((await api(server, 'POST', 'token/refresh', fresh.refresh_token)).status, 401);
});

test('forged, missing and malformed tokens are refused with 401', async (t) => {
  const server = await serverFor(t);
  const forged = signJwt({ sub: 1, client_type: 'node', type: 'access', roles: [] }, 'another-secret');
  t.deepEqual((await api(server, 'GET', 'node/1', forged)).body, { msg: 'Signature verification failed' });
  t.deepEqual((await api(server, 'GET', 'node/1')).body, { msg: 'Missing Authorization Header' });
  t.is((await api(server, 'GET', 'node/1', 'abc')).status, 401);
});

test('a researcher logs in with username and password', async (t) => {
  const server = await serverFor(t);
  const user = server.fixtures.users[0];
  const ok = await api(server, 'POST', 'token/user', undefined, { username: user?.username, password: user?.password });
  t.is(ok.status, 200);
  t.is(decodeJwt((ok.body as { access_token: string }).access_token).client_type, 'user');
  const wrong = await api(server, 'POST', 'token/user', undefined, { username: user?.username, password: 'nope' });
  t.is(wrong.status, 401);
});

test('a node reads its identity: node, organization, collaboration encryption, and uploads its public key', async (t) => {
  const server = await serverFor(t);
  const token = (await api(server, 'POST', 'token/node', undefined, { api_key: server.fixtures.nodes[2]?.api_key })).body as { access_token: string };
  const node = (await api(server, 'GET', 'node/3', token.access_token)).body;
  t.like(node, { id: 3, collaboration: { id: 2 }, organization: { id: 1 } });
  t.like((await api(server, 'GET', 'collaboration/2', token.access_token)).body, { encrypted: true });
  t.is((await api(server, 'GET', 'collaboration/1', token.access_token)).status, 401, 'not its collaboration');
  const byName = await api(server, 'GET', 'organization?name=Beta%20Clinic', token.access_token);
  t.like(byName.body, { data: [{ id: 2, name: 'Beta Clinic' }] });
  const patched = await api(server, 'PATCH', 'organization/1', token.access_token, { public_key: 'UEVN' });
  t.is(patched.status, 200);
  t.like((await api(server, 'GET', 'organization/1', token.access_token)).body, { public_key: 'UEVN' });
  t.is((await api(server, 'PATCH', 'organization/2', token.access_token, { public_key: 'x' })).status, 401);
  t.like((await api(server, 'GET', 'algorithmstore/1', token.access_token)).body, { url: 'https://store.example.org' });
});

test('unknown routes answer 404 JSON', async (t) => {
  const server = await serverFor(t);
  const answer = await api(server, 'GET', 'no/such/thing');
  t.is(answer.status, 404);
  t.is(typeof (answer.body as { message: string }).message, 'string');
});

import test from 'ava';
import { signJwt } from './auth/jwt.js';
import { api, manualClock, nextEvent, nodeSocket, nodeToken, plainTask, researcher, serverFor, until } from './testkit.js';

test('a valid node token earns sync, the rooms and online status; disconnect sets it offline', async (t) => {
  const server = await serverFor(t);
  const socket = nodeSocket(t, server, await nodeToken(server, 1));
  await nextEvent(socket, 'sync');
  t.true(server.state.presence.get(1)?.online);
  t.true(server.state.events.some((e) => e.event === 'node-online' && e.room === 'collaboration_1_organization_1'));

  socket.emit('node_info_update', { database_labels: ['default'], allowed_algorithms: 'all' });
  socket.emit('ping');
  await until(() => server.state.presence.get(1)?.info !== null);
  t.deepEqual(server.state.presence.get(1)?.info, { database_labels: ['default'], allowed_algorithms: 'all' });

  socket.close();
  await until(() => server.state.presence.get(1)?.online === false);
  t.pass();
});

test('an expired token gets expired_token and no sync', async (t) => {
  const clock = manualClock();
  const server = await serverFor(t, { clock: clock.now, accessTokenLifetimeSeconds: 10 });
  const token = await nodeToken(server, 1);
  clock.advance(11);
  const socket = nodeSocket(t, server, token);
  let synced = false;
  socket.on('sync', () => { synced = true; });
  await nextEvent(socket, 'expired_token');
  t.false(synced);
  t.false(server.state.presence.get(1)?.online);
});

test('a forged token gets invalid_token and no sync, yet stays connected', async (t) => {
  const server = await serverFor(t);
  const socket = nodeSocket(t, server, signJwt({ sub: 1, type: 'access', client_type: 'node', roles: [] }, 'not-the-secret'));
  let synced = false;
  socket.on('sync', () => { synced = true; });
  await nextEvent(socket, 'invalid_token');
  t.false(synced);
  t.true(socket.connected);
  t.false(server.state.presence.get(1)?.online);
});

test('new_task reaches the nodes and researchers of the collaboration when a researcher creates a task', async (t) => {
  const server = await serverFor(t);
  const socket = nodeSocket(t, server, await nodeToken(server, 2));
  await nextEvent(socket, 'sync');
  const user = server.fixtures.users[0];
  const login = await api(server, 'POST', 'token/user', undefined, { username: user?.username, password: user?.password });
  const watcher = nodeSocket(t, server, (login.body as { access_token: string }).access_token);
  await nextEvent(watcher, 'connect');
  const announced = nextEvent<{ id: number; parent_id: number | null }>(socket, 'new_task');
  const seenByResearcher = nextEvent(watcher, 'new_task');
  const task = await plainTask(await researcher(server));
  t.deepEqual(await announced, { id: task.id, parent_id: null });
  t.deepEqual(await seenByResearcher, { id: task.id, parent_id: null });
});

test('algorithm_log is appended to the run log with a newline and rebroadcast; status changes are rebroadcast', async (t) => {
  const server = await serverFor(t);
  const task = await plainTask(await researcher(server));
  const [runOrg1] = server.state.runsOfTask(task.id);
  const node1 = nodeSocket(t, server, await nodeToken(server, 1));
  const node2 = nodeSocket(t, server, await nodeToken(server, 2));
  await Promise.all([nextEvent(node1, 'sync'), nextEvent(node2, 'sync')]);

  const logSeen = nextEvent<{ run_id: number; log: string }>(node2, 'algorithm_log');
  node1.emit('algorithm_log', { collaboration_id: 1, run_id: runOrg1?.id, task_id: task.id, log: 'line one' });
  node1.emit('algorithm_log', { collaboration_id: 1, run_id: runOrg1?.id, task_id: task.id, log: 'line two\n' });
  t.like(await logSeen, { run_id: runOrg1?.id, log: 'line one' });
  await until(() => runOrg1?.log === 'line one\nline two\n');

  const statusSeen = nextEvent<{ status: string }>(node2, 'algorithm_status_change');
  node1.emit('algorithm_status_change', { node_id: 1, status: 'active', run_id: runOrg1?.id, task_id: task.id, collaboration_id: 1, organization_id: 1, parent_id: null });
  t.like(await statusSeen, { status: 'active', run_id: runOrg1?.id });
});

import test from 'ava';
import { api, nextEvent, nodeSocket, nodeToken, plainTask, researcher, serverFor, until } from './testkit.js';

test('suspend drops every connection and refuses new ones; resume serves the same state', async (t) => {
  const server = await serverFor(t);
  const task = await plainTask(await researcher(server), [1]);
  const token = await nodeToken(server, 1);
  const socket = nodeSocket(t, server, token);
  await nextEvent(socket, 'sync');

  const dropped = nextEvent(socket, 'disconnect');
  await server.suspend();
  await dropped;
  t.false(server.state.presence.get(1)?.online);
  const refused = await t.throwsAsync(fetch(`${server.url}/api/run`, { headers: { authorization: `Bearer ${token}` } }));
  t.is((refused?.cause as { code?: string } | undefined)?.code, 'ECONNREFUSED');

  await server.resume();
  const runs = await api(server, 'GET', `run?task_id=${task.id}`, token);
  t.is(runs.status, 200, 'tokens issued before the outage stay valid');
  t.is(runs.headers.get('total-count'), '1');
  socket.connect();
  await nextEvent(socket, 'sync');
  t.true(server.state.presence.get(1)?.online);
});

test('close is idempotent and ends the listener', async (t) => {
  const server = await serverFor(t);
  await Promise.all([server.close(), server.close()]);
  await server.close();
  await t.throwsAsync(fetch(`${server.url}/api/run`));
});

test('fault hooks answer non-JSON bodies or 503 without touching state', async (t) => {
  const server = await serverFor(t);
  const client = await researcher(server);
  server.faults.set({ garbageJsonRate: 1 });
  const garbage = await api(server, 'GET', 'run');
  t.is(garbage.status, 200);
  t.is(typeof garbage.body, 'string', 'not JSON');
  await t.throwsAsync(plainTask(client, [1]));
  t.is(server.state.tasks.size, 0);

  server.faults.set({ garbageJsonRate: 0, unavailableRate: 1 });
  t.is((await api(server, 'GET', 'run')).status, 503);
  server.faults.clear();
  await plainTask(client, [1]);
  t.is(server.state.tasks.size, 1);
});

test('a researcher sees its collaboration\'s runs and waits for them to finish', async (t) => {
  const server = await serverFor(t);
  const client = await researcher(server);
  const task = await plainTask(client, [1, 2]);
  const runs = await client.getRuns(task.id);
  t.is(runs.length, 2);
  const waiting = client.waitForTask(task.id, { timeoutMs: 10_000, intervalMs: 20 });
  for (const run of runs) {
    await api(server, 'PATCH', `run/${run.id}`, await nodeToken(server, run.organization.id), {
      status: 'completed', finished_at: '2025-01-01T00:00:00.000001+00:00', result: '', log: '',
    });
  }
  t.deepEqual((await waiting).map((r) => r.status), ['completed', 'completed']);
  await until(() => server.state.taskStatus(task.id) === 'completed');
  t.pass();
});

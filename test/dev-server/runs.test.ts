import test from 'ava';
import { api, nodeToken, plainTask, researcher, serverFor } from './testkit.js';

const ISO = '2025-01-01T12:00:00.123456+00:00';

interface RunPage {
  data: { id: number; task: { databases: { label: string; parameters: string }[]; init_org: { id: number } } }[];
  links: Record<string, string>;
}

test('GET run pages open runs of the node 10 at a time, with links and headers', async (t) => {
  const server = await serverFor(t);
  const client = await researcher(server);
  for (let i = 0; i < 12; i++) await plainTask(client, [1]);
  const token = await nodeToken(server, 1);

  const first = await api(server, 'GET', 'run?state=open&node_id=1&include=task', token);
  t.is(first.headers.get('total-count'), '12');
  const page1 = first.body as RunPage;
  t.is(page1.data.length, 10);
  t.is(page1.links.next, '/api/run?state=open&node_id=1&include=task&page=2');
  t.false('previous' in page1.links);
  t.true(first.headers.get('link')?.includes('</api/run?state=open&node_id=1&include=task&page=2>; rel=next'));
  t.deepEqual(page1.data[0]?.task.databases, [{ label: 'default', parameters: '{"query":"SELECT 1"}' }]);
  t.is(page1.data[0]?.task.init_org.id, 1);

  const page2 = (await api(server, 'GET', page1.links.next?.replace('/api/', '') ?? '', token)).body as RunPage;
  t.is(page2.data.length, 2);
  t.false('next' in page2.links);

  const finished = page1.data[0]?.id;
  await api(server, 'PATCH', `run/${finished}`, token, { status: 'completed', finished_at: ISO, result: '', log: '' });
  const open = await api(server, 'GET', 'run?state=open&node_id=1', token);
  t.is(open.headers.get('total-count'), '11');
  t.false((open.body as RunPage).data.some((r) => r.id === finished));
});

test('a node sees only its own organization\'s runs', async (t) => {
  const server = await serverFor(t);
  const task = await plainTask(await researcher(server), [1]);
  const token2 = await nodeToken(server, 2);
  t.is((await api(server, 'GET', `run?task_id=${task.id}`, token2)).headers.get('total-count'), '0');
  const [run] = server.state.runsOfTask(task.id);
  t.is((await api(server, 'GET', `run/${run?.id}`, token2)).status, 401);
  t.deepEqual(
    (await api(server, 'PATCH', `run/${run?.id}`, token2, { status: 'active' })).body,
    { msg: 'This is not your algorithm run to PATCH!' },
  );
});

test('PATCH run nulls omitted result, log and finished_at, and keeps started_at and status', async (t) => {
  const server = await serverFor(t);
  const task = await plainTask(await researcher(server), [1]);
  const [run] = server.state.runsOfTask(task.id);
  const token = await nodeToken(server, 1);
  t.is((await api(server, 'PATCH', `run/${run?.id}`, token, { started_at: ISO, status: 'active', log: 'hello', result: 'abc' })).status, 200);
  t.like(run, { started_at: '2025-01-01T12:00:00.123456', status: 'active', log: 'hello', result: 'abc' });
  const answer = await api(server, 'PATCH', `run/${run?.id}`, token, { status: 'initializing' });
  t.is(answer.status, 200);
  t.like(answer.body, { started_at: '2025-01-01T12:00:00.123456', status: 'initializing', log: null, finished_at: null });
  t.is(run?.result, null);
  t.deepEqual(server.state.events.at(-1), { room: 'collaboration_1', event: 'status_update', data: { run_id: run?.id } });
  t.is(server.state.patches.length, 2);
});

test('PATCH run answers 500 to datetimes the server cannot strptime, 400 to invalid ones', async (t) => {
  const server = await serverFor(t);
  const task = await plainTask(await researcher(server), [1]);
  const [run] = server.state.runsOfTask(task.id);
  const token = await nodeToken(server, 1);
  for (const value of ['2025-01-01T12:00:00.123Z', '2025-01-01T12:00:00+00:00', '2025-01-01T12:00:00.123456+01:00']) {
    t.is((await api(server, 'PATCH', `run/${run?.id}`, token, { started_at: value })).status, 500, value);
  }
  const invalid = await api(server, 'PATCH', `run/${run?.id}`, token, { finished_at: 'yesterday' });
  t.is(invalid.status, 400);
  t.like(invalid.body, { msg: 'Request body is incorrect', errors: { finished_at: ['Not a valid datetime.'] } });
  t.is((await api(server, 'PATCH', `run/${run?.id}`, token, { status: 'done' })).status, 400);
  t.is(run?.started_at, null, 'nothing applied');
  t.deepEqual(server.state.patches.map((p) => p.status), [500, 500, 500, 400, 400]);
  t.is((await api(server, 'PATCH', `run/${run?.id}`, token, { started_at: '2025-01-01T12:00:00.5' })).status, 200);
  t.is(run?.started_at, '2025-01-01T12:00:00.500000');
});

test('a failure status fails unstarted siblings with the server\'s log text; a finished run refuses PATCH', async (t) => {
  const server = await serverFor(t);
  const client = await researcher(server);
  const created = await client.createTask({
    collaborationId: 1,
    image: 'img',
    organizations: [1, 2].map((id) => ({ id, input: Buffer.from('{}').toString('base64') })),
  });
  const [mine, sibling] = server.state.runsOfTask(created.id);
  const token = await nodeToken(server, 1);
  await api(server, 'PATCH', `run/${mine?.id}`, token, { status: 'crashed', finished_at: ISO, result: '', log: 'boom' });
  t.is(sibling?.status, 'failed');
  t.not(sibling?.finished_at, null);
  t.is(sibling?.log, `Marked as failed because sibling run id=${mine?.id} failed with status 'crashed'.`);
  const again = await api(server, 'PATCH', `run/${mine?.id}`, token, { status: 'completed' });
  t.is(again.status, 400);
  t.deepEqual(again.body, { msg: 'Cannot update an already finished algorithm run!' });
  const runs = await client.waitForTask(created.id, { timeoutMs: 5000 });
  t.deepEqual(runs.map((r) => r.status).sort(), ['crashed', 'failed']);
  t.is((await client.getTask(created.id)).status, 'failed');
});

test('results of a task are listed with a reference to their run, as the real server lists them', async (t) => {
  const server = await serverFor(t);
  const client = await researcher(server);
  const task = await plainTask(client, [1]);
  const [run] = server.state.runsOfTask(task.id);
  await api(server, 'PATCH', `run/${run?.id}`, await nodeToken(server, 1), { status: 'completed', finished_at: ISO, result: 'eyJ4IjogMX0=', log: '' });
  t.like(await client.getResults(task.id), [{ run: { id: run?.id, link: `/api/run/${run?.id}` }, result: 'eyJ4IjogMX0=', blob_storage_used: false }]);
});

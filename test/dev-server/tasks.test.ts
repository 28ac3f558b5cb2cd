import test from 'ava';
import { decodeJwt } from './auth/jwt.js';
import { api, nextEvent, nodeSocket, nodeToken, plainTask, researcher, serverFor } from './testkit.js';
import { plainInput, UserClientError } from './user-client.js';

const ISO = '2025-01-01T12:00:00.123456+00:00';
const IMAGE = 'harbor2.vantage6.ai/demo/average';

test('container token errors are the server\'s, and a good one has an object sub and no exp', async (t) => {
  const server = await serverFor(t);
  const task = await plainTask(await researcher(server), [1, 2]);
  const node1 = await nodeToken(server, 1);
  const ask = (token: string, body: unknown) => api(server, 'POST', 'token/container', token, body);

  t.deepEqual((await ask(node1, { task_id: 999, image: IMAGE })).body, { msg: 'Parent task does not exist!' });
  const wrongImage = await ask(node1, { task_id: task.id, image: `${IMAGE}:other` });
  t.is(wrongImage.status, 401);
  t.deepEqual(wrongImage.body, { msg: 'Image and task do no match' });
  const outsider = await ask(await nodeToken(server, 3), { task_id: task.id, image: IMAGE });
  t.is(outsider.status, 401);
  t.deepEqual(outsider.body, { msg: 'You are not within the collaboration' });

  const good = await ask(node1, { task_id: task.id, image: IMAGE });
  t.is(good.status, 200);
  const claims = decodeJwt((good.body as { container_token: string }).container_token);
  t.false('exp' in claims);
  t.is(claims.client_type, 'container');
  t.like(claims.sub, { client_type: 'container', node_id: 1, organization_id: 1, collaboration_id: 1, task_id: task.id, image: IMAGE, databases: [{ label: 'default', query: 'SELECT 1' }] });

  for (const run of server.state.runsOfTask(task.id)) {
    const owner = await nodeToken(server, run.organization_id);
    await api(server, 'PATCH', `run/${run.id}`, owner, { status: 'completed', finished_at: ISO, result: '', log: '' });
  }
  const finished = await ask(node1, { task_id: task.id, image: IMAGE });
  t.is(finished.status, 400);
  t.deepEqual(finished.body, { msg: 'Task is already finished!' });
});

test('a container creates a subtask in its parent\'s job, announced with its parent id', async (t) => {
  const server = await serverFor(t);
  const parent = await plainTask(await researcher(server, 2), [1]);
  const node1 = await nodeToken(server, 1);
  const container = ((await api(server, 'POST', 'token/container', node1, { task_id: parent.id, image: IMAGE })).body as { container_token: string }).container_token;
  const socket = nodeSocket(t, server, await nodeToken(server, 2));
  await nextEvent(socket, 'sync');
  const announced = nextEvent(socket, 'new_task');

  const body = { name: 'sub', image: IMAGE, collaboration_id: 1, organizations: [{ id: 2, input: plainInput({ method: 'partial' }) }], databases: [{ label: 'default' }] };
  const created = await api(server, 'POST', 'task', container, body);
  t.is(created.status, 201);
  const child = created.body as { id: number; job_id: number; parent: { id: number }; init_org: { id: number }; init_user: { id: number } };
  t.like(child, { job_id: parent.job_id, parent: { id: parent.id }, init_org: { id: 1 }, init_user: { id: 2 } });
  t.deepEqual(await announced, { id: child.id, parent_id: parent.id });

  const otherImage = await api(server, 'POST', 'task', container, { ...body, image: 'evil/image' });
  t.deepEqual(otherImage.body, { msg: 'Container-token is not valid' });
  const otherCollaboration = await api(server, 'POST', 'task', container, { ...body, collaboration_id: 2 });
  t.is(otherCollaboration.status, 401);
  t.deepEqual(otherCollaboration.body, { msg: 'Container-token is not valid' });
});

test('task input must be encrypted exactly when the collaboration is', async (t) => {
  const server = await serverFor(t);
  const client = await researcher(server);
  const error = await t.throwsAsync(client.createTask({ collaborationId: 2, image: IMAGE, organizations: [{ id: 2, input: plainInput({}) }] }));
  t.true(error instanceof UserClientError && error.status === 400);
  const encrypted = `${Buffer.from([0xff, 0xfe, 0x00]).toString('base64')}$${Buffer.from([0xc3, 0x28]).toString('base64')}$${Buffer.from([0x80]).toString('base64')}`;
  const created = await client.createTask({ collaborationId: 2, image: IMAGE, organizations: [{ id: 2, input: encrypted }] });
  t.is(server.state.runsOfTask(created.id)[0]?.input, encrypted);
});

test('killing a task kills its and its children\'s unfinished runs and tells the collaboration', async (t) => {
  const server = await serverFor(t);
  const client = await researcher(server);
  const parent = await plainTask(client, [1]);
  const node1 = await nodeToken(server, 1);
  const container = ((await api(server, 'POST', 'token/container', node1, { task_id: parent.id, image: IMAGE })).body as { container_token: string }).container_token;
  const child = (await api(server, 'POST', 'task', container, { image: IMAGE, collaboration_id: 1, organizations: [1, 2].map((id) => ({ id, input: plainInput({}) })) })).body as { id: number };
  const [doneRun, openRun] = server.state.runsOfTask(child.id);
  await api(server, 'PATCH', `run/${doneRun?.id}`, node1, { status: 'completed', finished_at: ISO, result: '', log: '' });

  const socket = nodeSocket(t, server, await nodeToken(server, 2));
  await nextEvent(socket, 'sync');
  const kill = nextEvent(socket, 'kill_containers');
  await client.kill(parent.id);
  const [parentRun] = server.state.runsOfTask(parent.id);
  t.deepEqual(await kill, {
    kill_list: [
      { task_id: parent.id, run_id: parentRun?.id, organization_id: 1 },
      { task_id: child.id, run_id: openRun?.id, organization_id: 2 },
    ],
    collaboration_id: 1,
  });
  t.like(parentRun, { status: 'killed by user' });
  t.not(parentRun?.finished_at, null);
  t.is(doneRun?.status, 'completed');
  const late = await api(server, 'PATCH', `run/${parentRun?.id}`, node1, { status: 'killed by user' });
  t.is(late.status, 400);
  await t.throwsAsync(client.kill(parent.id), { instanceOf: UserClientError });

  const nodeKill = nextEvent(socket, 'kill_containers');
  await client.killNodeTasks(2);
  t.deepEqual(await nodeKill, { node_id: 2, collaboration_id: 1 });
});

test('blobstream stores octet-stream bodies when the blob store is enabled', async (t) => {
  const server = await serverFor(t, { blobStoreEnabled: true });
  const token = await nodeToken(server, 1);
  t.deepEqual((await api(server, 'GET', 'blobstream/status', token)).body, { blob_store_enabled: true });
  const upload = await fetch(`${server.url}/api/blobstream`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: Buffer.from([0, 1, 2, 255]),
  });
  t.is(upload.status, 201);
  const { uuid } = (await upload.json()) as { uuid: string };
  const download = await fetch(`${server.url}/api/blobstream/${uuid}`, { headers: { authorization: `Bearer ${token}` } });
  t.is(download.headers.get('content-type'), 'application/octet-stream');
  t.deepEqual(Buffer.from(await download.arrayBuffer()), Buffer.from([0, 1, 2, 255]));
});

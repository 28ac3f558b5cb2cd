import test from 'ava';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { agentSessionFolder, agentSessionsRoot } from '../kube/paths.js';
import { DataframeDeletion } from './dataframe-deletion.js';
import { SessionFiles } from './session-files.js';

const NODE_ID = 7;
const logger = pino({ level: 'silent' });
const exists = (path: string) => access(path).then(() => true, () => false);

async function setup(t: { teardown(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(join(tmpdir(), 'v6-dataframe-deletion-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const sessions = new SessionFiles(root, process.getgid!(), async () => []);
  const emitted: unknown[] = [];
  const deletion = new DataframeDeletion(sessions, NODE_ID, (event, payload) => emitted.push({ event, payload }), logger);
  /** Puts dataframe files (as stored ones) into a session's folder. */
  const hold = async (sessionId: number, ...names: string[]) => {
    await sessions.ensure(sessionId);
    for (const name of names) await writeFile(join(agentSessionFolder(root, sessionId), `${name}.parquet`), 'PAR1');
  };
  const file = (sessionId: number, name: string) => join(agentSessionFolder(root, sessionId), `${name}.parquet`);
  return { root, sessions, deletion, emitted, hold, file };
}

test('held lists the stored dataframes by session, not copies being stored or anything else on the volume', async (t) => {
  const { root, sessions, hold } = await setup(t);
  await hold(1, 'patients', 'visits');
  await hold(42);
  await writeFile(join(agentSessionFolder(root, 1), '.patients.parquet.run-9'), 'PAR1');
  await writeFile(join(agentSessionFolder(root, 1), 'notes.txt'), '');
  await mkdir(join(agentSessionsRoot(root), 'session12'));
  await mkdir(join(agentSessionsRoot(root), 'other'));
  const held = await sessions.held();
  t.deepEqual([...held.keys()].sort(), [1, 42]);
  t.deepEqual(held.get(1)!.sort(), ['patients', 'visits']);
  t.deepEqual(held.get(42), []);
});

test('held is empty on a volume without sessions (a 4.x node, a new node)', async (t) => {
  const { sessions } = await setup(t);
  t.deepEqual(await sessions.held(), new Map());
});

test('delete_dataframe removes the file and answers dataframe_deleted, also for a dataframe the node never had', async (t) => {
  const { deletion, emitted, hold, file } = await setup(t);
  await hold(3, 'patients');
  await deletion.handle({ df_name: 'patients', session_id: 3 });
  await deletion.handle({ df_name: 'elsewhere', session_id: 4 });
  t.false(await exists(file(3, 'patients')));
  t.deepEqual(emitted, [
    { event: 'dataframe_deleted', payload: { df_name: 'patients', session_id: 3, node_id: NODE_ID } },
    { event: 'dataframe_deleted', payload: { df_name: 'elsewhere', session_id: 4, node_id: NODE_ID } },
  ]);
});

test('delete_dataframe naming no possible file is ignored and not answered', async (t) => {
  const { deletion, emitted, hold, file } = await setup(t);
  await hold(3, 'patients');
  await deletion.handle({ df_name: '../session000000003/patients', session_id: 3 });
  await deletion.handle({ df_name: 'patients', session_id: -1 });
  t.true(await exists(file(3, 'patients')));
  t.deepEqual(emitted, []);
});

test('reconcile deletes and answers what the hub no longer lists, keeps what it lists, and removes a session the hub no longer has', async (t) => {
  const { root, deletion, emitted, hold, file } = await setup(t);
  await hold(1, 'patients', 'visits', 'extracting-now');
  await hold(2, 'old');
  const asked: number[] = [];
  await deletion.reconcile(async (sessionId) => {
    asked.push(sessionId);
    return sessionId === 1 ? ['patients', 'extracting-now', 'not-here-yet'] : undefined;
  });
  t.deepEqual(asked.sort(), [1, 2]);
  t.true(await exists(file(1, 'patients')));
  t.true(await exists(file(1, 'extracting-now')));
  t.false(await exists(file(1, 'visits')));
  t.false(await exists(agentSessionFolder(root, 2)));
  // Only the dataframe of a session the hub still has is answered: its pending row waits for this node.
  t.deepEqual(emitted, [{ event: 'dataframe_deleted', payload: { df_name: 'visits', session_id: 1, node_id: NODE_ID } }]);
});

test('reconcile touches nothing of a session the hub could not be asked about, and goes on with the others', async (t) => {
  const { deletion, emitted, hold, file } = await setup(t);
  await hold(1, 'patients');
  await hold(2, 'gone');
  await deletion.reconcile(async (sessionId) => {
    if (sessionId === 1) throw new Error('hub unreachable');
    return [];
  });
  t.true(await exists(file(1, 'patients')));
  t.false(await exists(file(2, 'gone')));
  t.deepEqual(emitted, [{ event: 'dataframe_deleted', payload: { df_name: 'gone', session_id: 2, node_id: NODE_ID } }]);
});

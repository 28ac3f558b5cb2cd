// The dev server against the real one: the same conversation (conversation.ts) with each must
// give the same statuses, messages, body shapes, timestamp formats and socket events. What the
// real server answers and the dev server deliberately does not is listed in ACCEPTED.
import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { startDevServer, type DevServer } from '../dev-server/index.js';
import { converse } from './conversation.js';
import { COLD_START_MS, startRealServer, type RealServer } from './server.js';

/**
 * Deliberate differences, by step and key. The real server stamps `last_seen` on every request a
 * node makes; the dev server only on socket connect and `ping`, so that a test can see the
 * agent's pings arrive (agent/server/socket.test.ts).
 */
const ACCEPTED: { step: string; key: string }[] = [{ step: 'GET node', key: 'last_seen' }];

function withoutAccepted(record: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(record);
  for (const { step, key } of ACCEPTED) delete ((copy[step] as { body: Record<string, unknown> }).body)[key];
  return copy;
}

let real: RealServer;
let dev: DevServer;

test.before(async (t) => {
  t.timeout(COLD_START_MS, 'the real vantage6 server did not start: see test/v6-server/venv.ts');
  [real, dev] = await Promise.all([startRealServer(), startDevServer()]);
});

test.after.always(async () => {
  await Promise.all([real?.close(), dev?.close()]);
});

test('the dev server answers the conversation as the real vantage6 server does', async (t) => {
  const [fromReal, fromDev] = [withoutAccepted(await converse(real)), withoutAccepted(await converse(dev))];
  const steps = [...new Set([...Object.keys(fromReal), ...Object.keys(fromDev)])];
  const differences = steps
    .filter((step) => !isDeepStrictEqual(fromDev[step], fromReal[step]))
    .map((step) => ({ step, real: fromReal[step], dev: fromDev[step] }));
  t.deepEqual(differences, [], JSON.stringify(differences, null, 1));
});

import test from 'ava';
import { startSandbox, type Sandbox } from './sandbox.js';

let sandbox: Sandbox | undefined;

test.after.always(async () => {
  await sandbox?.close();
});

test('the sandbox demo computes the federated mean directly and through central tasks via the proxies, unencrypted and encrypted', async (t) => {
  t.timeout(120_000);
  const lines: string[] = [];
  sandbox = await startSandbox({ print: (line) => lines.push(line), logLevel: 'silent' });
  const outcome = await sandbox.runDemo();
  t.deepEqual(outcome.problems, [], lines.join('\n'));
  t.true(outcome.ok);
  // Ages 30, 40, 50 at organization 1 and 20, 60 at organization 2.
  t.is(outcome.mean, 40);
  t.is(outcome.centralMean, 40);
  t.is(outcome.encryptedMean, 40);
});

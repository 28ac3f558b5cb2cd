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
  // Every node's agent and proxy serve metrics; the agents counted the runs.
  for (const [nodeId, urls] of sandbox.metrics) {
    t.is((await fetch(`${urls.agent}/readyz`)).status, 200, `node ${nodeId} ready`);
    t.regex(await (await fetch(`${urls.agent}/metrics`)).text(), /^v6_node_runs_finished_total\{status="completed"\} [1-9]/m, `node ${nodeId} agent`);
    t.regex(await (await fetch(`${urls.proxy}/metrics`)).text(), /^v6_node_proxy_requests_in_flight 0$/m, `node ${nodeId} proxy`);
  }
});

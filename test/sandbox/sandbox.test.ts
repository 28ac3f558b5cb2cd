import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startSandbox, type Sandbox } from './sandbox.js';

let sandbox: Sandbox | undefined;

test.after.always(async () => {
  await sandbox?.close();
});

test('the sandbox demo computes the federated mean directly and through central tasks via the proxies, unencrypted and encrypted', async (t) => {
  t.timeout(120_000);
  const lines: string[] = [];
  const logDir = await mkdtemp(join(tmpdir(), 'v6-sandbox-test-'));
  t.teardown(() => rm(logDir, { recursive: true, force: true }));
  sandbox = await startSandbox({ print: (line) => lines.push(line), logLevel: 'info', logDir });
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
  // The agents' and proxies' JSON lines went to the files the sandbox names, not between the demo's lines.
  t.false(lines.some((line) => line.trimStart().startsWith('{')));
  t.deepEqual([...sandbox.logs.keys()], [1, 2, 3, 4]);
  for (const [nodeId, file] of sandbox.logs) {
    t.is(file, join(logDir, `node-${nodeId}.log`));
    const records = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { component?: string; msg: string; nodeId?: number });
    t.true(records.some((r) => r.component === 'agent' && r.msg === 'node identified' && r.nodeId === nodeId), `node ${nodeId}'s agent log`);
    t.true(records.some((r) => r.component === 'proxy' && r.msg === 'Proxy listening'), `node ${nodeId}'s proxy log`);
  }
});

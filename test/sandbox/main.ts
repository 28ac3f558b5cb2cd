// `npm run sandbox [-- --once]`: start the sandbox, run the demo, print where everything is, and
// keep running until Ctrl-C (with --once, exit after the demo: 0 on success, 1 otherwise).
import { startSandbox, type Sandbox } from './sandbox.js';

const once = process.argv.includes('--once');
// Signals are handled from the start: one during start-up stops the sandbox as soon as it is up
// (startSandbox cleans up itself when it fails); a second one exits at once.
let started: Sandbox | undefined = undefined;
let stopping: Promise<void> | undefined;
const stop = (code: number): Promise<void> =>
  (stopping ??= (started === undefined ? Promise.resolve() : started.close()).then(() => process.exit(code)));
let signalled = false;
const onSignal = (): void => {
  if (signalled) process.exit(130);
  signalled = true;
  if (started === undefined) console.log('Stopping once the sandbox is up (again to exit at once, leaving its folders).');
  else void stop(0);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
const sandbox = await startSandbox();
started = sandbox;
if (signalled) await stop(0);

console.log(`vantage6 dev server: ${sandbox.serverUrl} (researcher-alpha / alpha-password)`);
console.log(`simulated cluster:   KUBECONFIG=${sandbox.kubeconfigPath}`);
for (const [nodeId, url] of sandbox.proxies) console.log(`proxy of node ${nodeId}:     ${url}`);
for (const [nodeId, { agent, proxy }] of sandbox.metrics) {
  console.log(`metrics of node ${nodeId}:   agent ${agent}/metrics (/livez, /readyz), proxy ${proxy}/metrics`);
}
for (const [nodeId, file] of sandbox.logs) console.log(`logs of node ${nodeId}:      ${file} (agent and proxy, JSON lines)`);
let ok = false;
try {
  const outcome = await sandbox.runDemo();
  ok = outcome.ok;
  console.log(ok ? 'Demo succeeded.' : 'Demo FAILED.');
} catch (error) {
  console.error('Demo FAILED:', error);
}
if (once) {
  await stop(ok ? 0 : 1);
} else {
  console.log('Sandbox running; Ctrl-C to stop.');
}

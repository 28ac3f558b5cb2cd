// `npm run sandbox [-- --once]`: start the sandbox, run the demo, print where everything is, and
// keep running until Ctrl-C (with --once, exit after the demo: 0 on success, 1 otherwise).
import { startSandbox } from './sandbox.js';

const once = process.argv.includes('--once');
const sandbox = await startSandbox();
let stopping: Promise<void> | undefined;
const stop = (code: number): Promise<void> =>
  (stopping ??= sandbox.close().then(() => process.exit(code)));
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

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

// Turning the cluster's NetworkPolicy implementation off and on again, for the tests that show
// what v6-node does on a cluster that ignores NetworkPolicies (as plain flannel does): kube-router
// stopped on every node and its rules removed (`--cleanup-config`), then started as cluster:up does.
import { startKubeRouter } from './addons.js';
import { NODE_COUNT, NODES, paths } from './config.js';
import { run, tryRun } from './exec.js';
import { upstreamBinary } from './go-build.js';
import { inNode } from './network.js';
import { isRunning, stopDaemon } from './processes.js';

const nodes = () => NODES.slice(0, NODE_COUNT);
const quiet = () => undefined;

/** No policy is enforced anywhere once this resolves. */
export async function stopPolicyEnforcement(): Promise<void> {
  const kubeRouter = await upstreamBinary('kube-router', quiet);
  for (const node of nodes()) {
    await stopDaemon(`kube-router-${node.name}`);
    // kube-router 2.1.0 cleans its policy rules, then panics cleaning the service proxy it never
    // ran (a nil pointer in deleteHairpinIptablesRules): what counts is that its rules are gone.
    const [file, args] = inNode(node, kubeRouter, ['--cleanup-config']);
    await tryRun(file, args, { timeoutMs: 60_000 });
    const [save, saveArgs] = inNode(node, 'iptables-save', []);
    // Its chains may stay declared, emptied; no rule may be left in them or jump to them.
    const left = (await run(save, saveArgs)).split('\n').filter((line) => line.startsWith('-A ') && /KUBE-(ROUTER|NWPLCY|POD-FW)/.test(line));
    if (left.length > 0) throw new Error(`kube-router's rules are still in ${node.name}'s iptables after --cleanup-config:\n${left.slice(0, 5).join('\n')}`);
  }
}

/** kube-router runs (and is healthy) on every node again; where it still runs it is left alone. */
export async function startPolicyEnforcement(): Promise<void> {
  const kubeRouter = await upstreamBinary('kube-router', quiet);
  for (const node of nodes()) {
    if (!(await isRunning(`kube-router-${node.name}`))) await startKubeRouter(kubeRouter, paths.kubeconfig, node);
  }
}

// Turning the cluster's NetworkPolicy implementation off and on again, for the tests that show
// what v6-node does on a cluster that ignores NetworkPolicies (as plain flannel does): kube-router
// stopped on every node and its rules removed (`--cleanup-config`), then started as cluster:up does.
import { startKubeRouter } from './addons.js';
import { NODE_COUNT, NODES, paths } from './config.js';
import { run } from './exec.js';
import { upstreamBinary } from './go-build.js';
import { inNode, ownedInTable, sweepFirewall } from './network.js';
import { isRunning, stopDaemon } from './processes.js';

const nodes = () => NODES.slice(0, NODE_COUNT);
const quiet = () => undefined;
/** kube-router's policy chains: its hooks, one per policy, one per pod. */
const KUBE_ROUTER_CHAINS = /^KUBE-(ROUTER-|NWPLCY-|POD-FW-)/;

/** No policy is enforced anywhere once this resolves. */
export async function stopPolicyEnforcement(): Promise<void> {
  for (const node of nodes()) {
    await stopDaemon(`kube-router-${node.name}`);
    // Not kube-router's own --cleanup-config: in 2.1.0 it panics half way (cleaning the service
    // proxy it never ran) and left its rules in place in one CI run. Its chains and the rules
    // that jump to them, removed as cluster:down removes ours.
    await sweepFirewall('iptables', KUBE_ROUTER_CHAINS, node);
    const [save, saveArgs] = inNode(node, 'iptables-save', ['-t', 'filter']);
    const { rules, chains } = ownedInTable(await run(save, saveArgs), KUBE_ROUTER_CHAINS);
    const left = [...chains, ...rules.map((rule) => rule.join(' '))];
    if (left.length > 0) throw new Error(`kube-router's rules are still in ${node.name}'s iptables:\n${left.slice(0, 5).join('\n')}`);
  }
}

/** kube-router runs (and is healthy) on every node again; where it still runs it is left alone. */
export async function startPolicyEnforcement(): Promise<void> {
  const kubeRouter = await upstreamBinary('kube-router', quiet);
  for (const node of nodes()) {
    if (!(await isRunning(`kube-router-${node.name}`))) await startKubeRouter(kubeRouter, paths.kubeconfig, node);
  }
}

// Turning the cluster's NetworkPolicy implementation off and on again, for the tests that show
// what v6-node does on a cluster that ignores NetworkPolicies (as plain flannel does): kube-router
// stopped on every node and its rules removed (`--cleanup-config`), then started as cluster:up does.
import { startKubeRouter } from './addons.js';
import { NODE_COUNT, NODES, paths } from './config.js';
import { run } from './exec.js';
import { upstreamBinary } from './go-build.js';
import { inNode } from './network.js';
import { stopDaemon } from './processes.js';

const nodes = () => NODES.slice(0, NODE_COUNT);
const quiet = () => undefined;

/** No policy is enforced anywhere once this resolves. */
export async function stopPolicyEnforcement(): Promise<void> {
  const kubeRouter = await upstreamBinary('kube-router', quiet);
  for (const node of nodes()) {
    await stopDaemon(`kube-router-${node.name}`);
    const [file, args] = inNode(node, kubeRouter, ['--cleanup-config']);
    await run(file, args, { timeoutMs: 60_000 });
  }
}

/** kube-router runs (and is healthy) on every node again. */
export async function startPolicyEnforcement(): Promise<void> {
  const kubeRouter = await upstreamBinary('kube-router', quiet);
  for (const node of nodes()) await startKubeRouter(kubeRouter, paths.kubeconfig, node);
}

// `npm run cluster:down`: stops everything cluster:up started and removes what it made — pods,
// shims, daemons, mounts, the kubelets' log links, cgroups, iptables rules, ipsets, the bridge, host settings and the
// state dir. Safe to run at any point, also after a failed or partial up.
import { rm } from 'node:fs/promises';
import { NODES, STATE_DIR } from './lib/config.js';
import { killPods, killShims, removeContainerLogLinks, unmountState } from './lib/host-cleanup.js';
import { tearDownHostNetwork } from './lib/network.js';
import { recordedDaemons, stopDaemon } from './lib/processes.js';

/** Stop order: what uses the API first, the API server and etcd last, containerd after its pods. */
const ORDER = ['local-path-provisioner', 'kube-router', 'coredns', 'kube-proxy', 'kubelet-', 'scheduler', 'controller-manager', 'apiserver', 'etcd', 'registry'];
const rank = (name: string) => {
  const i = ORDER.findIndex((prefix) => name.startsWith(prefix));
  return i === -1 ? ORDER.length : i;
};

async function down(): Promise<void> {
  const recorded = await recordedDaemons();
  const daemons = recorded.filter((d) => !d.startsWith('containerd')).sort((a, b) => rank(a) - rank(b));
  for (const daemon of daemons) await stopDaemon(daemon);
  await killPods();
  await killShims();
  for (const containerd of recorded.filter((d) => d.startsWith('containerd'))) await stopDaemon(containerd);
  await unmountState();
  await removeContainerLogLinks();
  await tearDownHostNetwork(NODES);
  await rm(STATE_DIR, { recursive: true, force: true });
}

try {
  await down();
  console.error(`cluster:down: removed the test cluster (${STATE_DIR})`);
} catch (error) {
  console.error(`cluster:down failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

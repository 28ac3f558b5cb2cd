// `npm run cluster:up`: builds what is missing (cached outside the repository), then starts a
// Kubernetes on this host (two nodes; V6_CLUSTER_NODES=1 for one) and prints its admin kubeconfig's path. Root only.
// Everything it makes is under STATE_DIR and removed by `npm run cluster:down`.
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCoreDns, startKubeRouter, startLocalPath, startRegistry } from './lib/addons.js';
import { ensurePackages } from './lib/apt.js';
import { APT_PACKAGES, NODES, NODE_COUNT, type NodeSpec, STATE_DIR, paths } from './lib/config.js';
import { startApiServer, startControllers, startEtcd } from './lib/control-plane.js';
import { run } from './lib/exec.js';
import { corednsBinary, kubeBinary, upstreamBinary } from './lib/go-build.js';
import { busyboxImage, clusterPauseImage, importImage } from './lib/images.js';
import { writeKubeconfig } from './lib/kubeconfig.js';
import { ensureKubectl } from './lib/kubectl.js';
import { setUpHostNetwork, setUpNodeNetwork } from './lib/network.js';
import { startContainerd, startKubelet, startProxy } from './lib/node.js';
import { ensureControlPlanePki, pki } from './lib/pki.js';
import { isRunning } from './lib/processes.js';

const log = (line: string) => console.error(`cluster:up: ${line}`);

/** Waits for the node to be Ready, and checks it got the pod range its CNI configuration names. */
async function waitForNode(kubectl: string, kubeconfig: string, node: NodeSpec): Promise<void> {
  const deadline = Date.now() + 120_000;
  const field = (path: string) => run(kubectl, ['--kubeconfig', kubeconfig, 'get', 'node', node.name, '-o', `jsonpath={${path}}`]).catch(() => '');
  for (;;) {
    const ready = await field('.status.conditions[?(@.type=="Ready")].status');
    const podCidr = await field('.spec.podCIDR');
    if (ready === 'True' && podCidr !== '') {
      if (podCidr !== node.podCidr) throw new Error(`node ${node.name} was given pod range ${podCidr}, but its CNI configuration uses ${node.podCidr}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`node ${node.name} did not become Ready with a pod range in 120 s: see ${paths.logs}/kubelet-${node.name}.log`);
    await sleep(500);
  }
}

async function up(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the test cluster runs containers and changes the host network: run it as root');
  if (await isRunning('apiserver')) {
    log(`already running (state in ${STATE_DIR})`);
    console.log(paths.kubeconfig);
    return;
  }
  const started = Date.now();
  await ensurePackages(APT_PACKAGES, log);
  const kubectl = await ensureKubectl();
  const v6kube = await kubeBinary(log);
  const coredns = await corednsBinary(log);
  const registry = await upstreamBinary('registry', log);
  const kubeRouter = await upstreamBinary('kube-router', log);
  const localPath = await upstreamBinary('local-path-provisioner', log);
  const built = Date.now();

  const nodes = NODES.slice(0, NODE_COUNT);
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  await ensureControlPlanePki();
  await setUpHostNetwork();
  for (const node of nodes) {
    await setUpNodeNetwork(node);
    await startContainerd(node);
    await importImage(clusterPauseImage(), node);
    await importImage(busyboxImage(), node);
  }
  await startRegistry(registry);
  await startEtcd(v6kube);
  await startApiServer(v6kube);
  const kubeconfig = await writeKubeconfig('admin', pki.admin);
  await startControllers(v6kube);
  // One node after the other: the controller manager hands out pod ranges in registration order.
  for (const node of nodes) {
    await startKubelet(v6kube, node);
    await startProxy(v6kube, node);
    await startKubeRouter(kubeRouter, kubeconfig, node);
    await waitForNode(kubectl, kubeconfig, node);
  }
  await startCoreDns(coredns, kubeconfig);
  await startLocalPath(localPath, kubeconfig, kubectl);
  log(`ready in ${((Date.now() - built) / 1000).toFixed(1)} s (builds and installs: ${((built - started) / 1000).toFixed(1)} s)`);
  console.log(kubeconfig);
}

try {
  await up();
} catch (error) {
  console.error(`cluster:up failed: ${error instanceof Error ? error.message : String(error)}`);
  console.error('Logs are in', paths.logs, '— run `npm run cluster:down` to remove what was started.');
  process.exit(1);
}

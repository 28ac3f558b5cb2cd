// `npm run cluster:up`: builds what is missing (cached outside the repository), then starts a
// single-node Kubernetes on this host and prints its admin kubeconfig's path. Root only.
// Everything it makes is under STATE_DIR and removed by `npm run cluster:down`.
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCoreDns, startKubeRouter, startLocalPath, startRegistry } from './lib/addons.js';
import { ensurePackages } from './lib/apt.js';
import { APT_PACKAGES, NODE_NAME, STATE_DIR, paths } from './lib/config.js';
import { startApiServer, startControllers, startEtcd } from './lib/control-plane.js';
import { run } from './lib/exec.js';
import { corednsBinary, kubeBinary, pauseBinary, upstreamBinary } from './lib/go-build.js';
import { busyboxImage, importImage, pauseImage } from './lib/images.js';
import { writeKubeconfig } from './lib/kubeconfig.js';
import { ensureKubectl } from './lib/kubectl.js';
import { setUpHostNetwork } from './lib/network.js';
import { startContainerd, startKubelet, startProxy } from './lib/node.js';
import { ensureControlPlanePki, pki } from './lib/pki.js';
import { isRunning } from './lib/processes.js';

const log = (line: string) => console.error(`cluster:up: ${line}`);

async function waitForNodeReady(kubectl: string, kubeconfig: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const ready = await run(kubectl, ['--kubeconfig', kubeconfig, 'get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).catch(() => '');
    if (ready === 'True') return;
    await sleep(500);
  }
  throw new Error(`node ${NODE_NAME} did not become Ready in 120 s: see ${paths.logs}/kubelet-${NODE_NAME}.log`);
}

async function up(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the test cluster runs containers and changes the host network: run it as root');
  if (await isRunning('apiserver')) {
    log(`already running (state in ${STATE_DIR})`);
    return;
  }
  const started = Date.now();
  await ensurePackages(APT_PACKAGES, log);
  const kubectl = await ensureKubectl();
  const v6kube = await kubeBinary(log);
  const coredns = await corednsBinary(log);
  const pause = await pauseBinary(log);
  const registry = await upstreamBinary('registry', log);
  const kubeRouter = await upstreamBinary('kube-router', log);
  const localPath = await upstreamBinary('local-path-provisioner', log);
  const built = Date.now();

  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  await ensureControlPlanePki();
  await setUpHostNetwork();
  await startContainerd();
  await importImage(pauseImage(pause));
  await importImage(busyboxImage());
  await startRegistry(registry);
  await startEtcd(v6kube);
  await startApiServer(v6kube);
  const kubeconfig = await writeKubeconfig('admin', pki.admin);
  await startControllers(v6kube);
  await startKubelet(v6kube);
  await startProxy(v6kube);
  await startCoreDns(coredns, kubeconfig);
  await startKubeRouter(kubeRouter, kubeconfig);
  await startLocalPath(localPath, kubeconfig, kubectl);
  await waitForNodeReady(kubectl, kubeconfig);
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

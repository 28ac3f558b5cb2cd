// The add-ons, run as host processes with the admin kubeconfig: the local registry (basic auth,
// htpasswd), CoreDNS (the kubernetes plugin only, no forwarding), kube-router's network-policy
// controller (iptables + ipset; its router and service proxy off, so no BGP) and
// local-path-provisioner with its busybox helper pods.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, CLUSTER_DIR, CLUSTER_DOMAIN, DNS_IP, type NodeSpec, REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER, paths } from './config.js';
import { writeEtc } from './etc.js';
import { run } from './exec.js';
import { httpOk } from './probe.js';
import { startInNode } from './node.js';
import { logPath, startDaemon, waitUntil } from './processes.js';

export async function startRegistry(registry: string): Promise<void> {
  await mkdir(join(paths.registry, 'data'), { recursive: true });
  const htpasswd = join(paths.registry, 'htpasswd');
  await writeFile(htpasswd, await run('htpasswd', ['-Bbn', REGISTRY_USER, REGISTRY_PASSWORD]));
  const config = await writeEtc('registry.yaml', {
    version: 0.1,
    log: { level: 'warn' },
    storage: { filesystem: { rootdirectory: join(paths.registry, 'data') }, delete: { enabled: true } },
    http: { addr: REGISTRY },
    auth: { htpasswd: { realm: 'v6-cluster', path: htpasswd } },
  });
  // No tracing exporter: the registry would otherwise try to reach an OTLP collector.
  await startDaemon('registry', registry, ['serve', config], { OTEL_TRACES_EXPORTER: 'none', OTEL_SDK_DISABLED: 'true' });
  await waitUntil('the registry to answer', 'registry', () => httpOk(`http://${REGISTRY}/`));
}

export async function startCoreDns(coredns: string, kubeconfig: string): Promise<void> {
  const corefile = await writeEtc(
    'Corefile',
    `.:53 {
    bind ${DNS_IP}
    ready 127.0.0.1:18181
    health 127.0.0.1:18080
    errors
    cache 30
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig} v6-cluster
        pods insecure
    }
}
`,
  );
  await startDaemon('coredns', coredns, ['-conf', corefile]);
  await waitUntil('CoreDNS to be ready', 'coredns', () => httpOk('http://127.0.0.1:18181/ready'));
}

/** kube-router enforces policies on the node it runs on: one per node, in the node's network namespace. */
export async function startKubeRouter(kubeRouter: string, kubeconfig: string, node: NodeSpec): Promise<void> {
  await startInNode(node, 'kube-router', kubeRouter, [
    `--kubeconfig=${kubeconfig}`,
    `--hostname-override=${node.name}`,
    '--run-firewall=true',
    '--run-router=false',
    '--run-service-proxy=false',
    '--enable-cni=false',
    '--enable-ibgp=false',
    '--enable-overlay=false',
    '--health-port=20244',
    '--metrics-port=0',
    '--v=1',
  ]);
  await waitUntil(`kube-router on ${node.name} to be healthy`, `kube-router-${node.name}`, () => httpOk(`http://${node.ip}:20244/healthz`));
}

export async function startLocalPath(provisioner: string, kubeconfig: string, kubectl: string): Promise<void> {
  await run(kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', join(CLUSTER_DIR, 'manifests', 'addons.yaml')]);
  await mkdir(paths.storage, { recursive: true });
  const config = await writeEtc('local-path.json', { nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [paths.storage] }] });
  const helperPod = await writeEtc('local-path-helper-pod.yaml', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'helper-pod' },
    spec: { containers: [{ name: 'helper-pod', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never' }] },
  });
  await startDaemon('local-path-provisioner', provisioner, [
    'start',
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    `--helper-pod-file=${helperPod}`,
    `--helper-image=${BUSYBOX_IMAGE}`,
    '--namespace=local-path-storage',
  ]);
  const started = async () => (await readFile(logPath('local-path-provisioner'), 'utf8')).includes('Started provisioner controller');
  await waitUntil('local-path-provisioner to start', 'local-path-provisioner', started);
}

// The node: containerd, the kubelet (cgroup v1 through cgroupfs, as the host has no systemd) and
// kube-proxy in iptables mode, with the node's identity for the Node authorizer.
import { join } from 'node:path';
import { CLUSTER_CIDR, CLUSTER_DOMAIN, DNS_IP, NODE_IP, NODE_NAME, paths } from './config.js';
import { containerdConfigPath, criEndpoint, writeContainerdConfig } from './containerd.js';
import { writeEtc } from './etc.js';
import { tryRun } from './exec.js';
import { writeKubeconfig } from './kubeconfig.js';
import { CA, ensureNodePki, pki } from './pki.js';
import { httpOk } from './probe.js';
import { startDaemon, waitUntil } from './processes.js';

export async function startContainerd(): Promise<void> {
  await writeContainerdConfig();
  await startDaemon('containerd', 'containerd', ['--config', containerdConfigPath]);
  await waitUntil('containerd to answer', 'containerd', async () => (await tryRun('ctr', ['--address', paths.containerdSocket, 'version'])) !== undefined);
}

function kubeletConfig(node: string): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The host is cgroup v1, which kubelet 1.35 refuses unless told otherwise.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: criEndpoint,
    address: NODE_IP,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    tlsCertFile: pki.nodeServing(node).cert,
    tlsPrivateKeyFile: pki.nodeServing(node).key,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: CA.cert } },
    authorization: { mode: 'Webhook' },
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [DNS_IP],
    // No host resolv.conf: a pod with dnsPolicy Default gets no nameserver, so nothing resolves off the host.
    resolvConf: '',
    failSwapOn: false,
    serializeImagePulls: false,
    // The host's disk is shared with other work: never evict our pods for it, never GC the imported images.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    protectKernelDefaults: false,
    makeIPTablesUtilChains: true,
  };
}

export async function startKubelet(v6kube: string, node = NODE_NAME): Promise<void> {
  await ensureNodePki(node, NODE_IP);
  const kubeconfig = await writeKubeconfig(`kubelet-${node}`, pki.nodeClient(node));
  const config = await writeEtc(`kubelet-${node}.yaml`, kubeletConfig(node));
  await startDaemon(`kubelet-${node}`, v6kube, [
    'kubelet',
    `--config=${config}`,
    `--kubeconfig=${kubeconfig}`,
    `--hostname-override=${node}`,
    `--node-ip=${NODE_IP}`,
    `--root-dir=${join(paths.kubelet, node)}`,
    '--v=1',
  ]);
  await waitUntil(`the kubelet of ${node} to be healthy`, `kubelet-${node}`, () => httpOk('http://127.0.0.1:10248/healthz'), 120_000);
}

export async function startProxy(v6kube: string): Promise<void> {
  const kubeconfig = await writeKubeconfig('proxy', pki.proxy);
  const config = await writeEtc('kube-proxy.yaml', {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    mode: 'iptables',
    clusterCIDR: CLUSTER_CIDR,
    hostnameOverride: NODE_NAME,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    nodePortAddresses: [`${NODE_IP}/32`],
    // Leave the host's conntrack settings and route_localnet alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false, masqueradeAll: false },
  });
  await startDaemon('kube-proxy', v6kube, ['proxy', `--config=${config}`, '--v=1']);
  await waitUntil('kube-proxy to be healthy', 'kube-proxy', () => httpOk('http://127.0.0.1:10256/healthz'), 60_000);
}

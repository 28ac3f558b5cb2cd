// A node: its containerd, its kubelet (cgroup v1 through cgroupfs, as the host has no systemd)
// and kube-proxy in iptables mode, with the node's identity for the Node authorizer. The first
// node runs in the host's network namespace, the others each in their own (see network.ts).
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER_CIDR, CLUSTER_DOMAIN, DNS_IP, type NodeSpec, paths } from './config.js';
import { containerdConfigPath, containerdSocket, criEndpoint, writeContainerdConfig } from './containerd.js';
import { writeEtc } from './etc.js';
import { tryRun } from './exec.js';
import { writeKubeconfig } from './kubeconfig.js';
import { inNode } from './network.js';
import { CA, ensureNodePki, pki } from './pki.js';
import { CGROUP_ROOT } from './host-cleanup.js';
import { httpOk } from './probe.js';
import { startDaemon, waitUntil } from './processes.js';

/** Starts a daemon in the node's network namespace, named <name>-<node>. */
export function startInNode(node: NodeSpec, name: string, command: string, args: string[]): Promise<number> {
  const [file, argv] = inNode(node, command, args);
  return startDaemon(`${name}-${node.name}`, file, argv);
}

export async function startContainerd(node: NodeSpec): Promise<void> {
  await writeContainerdConfig(node);
  await startInNode(node, 'containerd', 'containerd', ['--config', containerdConfigPath(node)]);
  const answers = async () => (await tryRun('ctr', ['--address', containerdSocket(node), 'version'])) !== undefined;
  await waitUntil('containerd to answer', `containerd-${node.name}`, answers);
}

function kubeletConfig(node: NodeSpec): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The host is cgroup v1, which kubelet 1.35 refuses unless told otherwise.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    // Each node's pods in a cgroup tree of its own (the first node keeps the default, /kubepods).
    ...(node.netns === undefined ? {} : { cgroupRoot: `/${node.name}` }),
    containerRuntimeEndpoint: criEndpoint(node),
    // Each kubelet's pod logs in a folder of its own: every minute a kubelet's container GC removes
    // the log folders of pods it does not know, so with the shared default (/var/log/pods) each
    // node deleted the other's logs, and `kubectl logs` of a finished pod failed or came back cut.
    podLogsDir: join(paths.podLogs, node.name),
    address: node.ip,
    readOnlyPort: 0,
    healthzBindAddress: node.ip,
    healthzPort: 10248,
    tlsCertFile: pki.nodeServing(node.name).cert,
    tlsPrivateKeyFile: pki.nodeServing(node.name).key,
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

/**
 * Makes the node's cgroup root in every v1 hierarchy, which the kubelet expects to exist; a new
 * cpuset cgroup has no CPUs or memory nodes until given its parent's.
 */
async function ensureCgroupRoot(name: string): Promise<void> {
  for (const hierarchy of await readdir(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, hierarchy, name);
    if (hierarchy === 'unified' || (await stat(join(CGROUP_ROOT, hierarchy, 'cgroup.procs')).catch(() => undefined)) === undefined) continue;
    await mkdir(dir, { recursive: true });
    if (hierarchy === 'cpuset') {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) await writeFile(join(dir, file), await readFile(join(CGROUP_ROOT, hierarchy, file), 'utf8'));
    }
  }
}

export async function startKubelet(v6kube: string, node: NodeSpec): Promise<void> {
  await ensureNodePki(node.name, node.ip);
  if (node.netns !== undefined) await ensureCgroupRoot(node.name);
  const kubeconfig = await writeKubeconfig(`kubelet-${node.name}`, pki.nodeClient(node.name));
  const config = await writeEtc(`kubelet-${node.name}.yaml`, kubeletConfig(node));
  await startInNode(node, 'kubelet', v6kube, [
    'kubelet',
    `--config=${config}`,
    `--kubeconfig=${kubeconfig}`,
    `--hostname-override=${node.name}`,
    `--node-ip=${node.ip}`,
    `--root-dir=${join(paths.kubelet, node.name)}`,
    '--v=1',
  ]);
  await waitUntil(`the kubelet of ${node.name} to be healthy`, `kubelet-${node.name}`, () => httpOk(`http://${node.ip}:10248/healthz`), 120_000);
}

export async function startProxy(v6kube: string, node: NodeSpec): Promise<void> {
  const kubeconfig = await writeKubeconfig('proxy', pki.proxy);
  const config = await writeEtc(`kube-proxy-${node.name}.yaml`, {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    mode: 'iptables',
    clusterCIDR: CLUSTER_CIDR,
    hostnameOverride: node.name,
    healthzBindAddress: `${node.ip}:10256`,
    metricsBindAddress: `${node.ip}:10249`,
    nodePortAddresses: [`${node.ip}/32`],
    // Leave the host's conntrack settings and route_localnet alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false, masqueradeAll: false },
  });
  await startInNode(node, 'kube-proxy', v6kube, ['proxy', `--config=${config}`, '--v=1']);
  await waitUntil(`kube-proxy on ${node.name} to be healthy`, `kube-proxy-${node.name}`, () => httpOk(`http://${node.ip}:10256/healthz`), 60_000);
}

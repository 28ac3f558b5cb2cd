// The test cluster's fixed facts: versions, where its state lives, its addresses. Everything the
// cluster makes lives under STATE_DIR (down removes it), every build output under CACHE_ROOT.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLUSTER_DIR = resolve(import.meta.dirname, '..');
export const STATE_DIR = process.env.V6_CLUSTER_STATE_DIR ?? '/var/tmp/v6-cluster';
export const CACHE_ROOT = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'v6-node', 'cluster');

/** Kubernetes 1.35: the newest minor whose kubelet still runs on containerd 1.x (Debian 12 has 1.6). */
export const KUBERNETES_VERSION = 'v1.35.4';

/** Upstream Go modules built as they are (`go install module/cmd@version`, their own go.sum). */
export const UPSTREAM_TOOLS = {
  registry: { pkg: 'github.com/distribution/distribution/v3/cmd/registry', version: 'v3.1.2' },
  'local-path-provisioner': { pkg: 'github.com/rancher/local-path-provisioner', version: 'v0.0.30' },
  'kube-router': { pkg: 'github.com/cloudnativelabs/kube-router/v2/cmd/kube-router', version: 'v2.1.0' },
} as const;

/** Debian packages the cluster needs on the host, installed when absent. */
export const APT_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'iptables',
  'ipset',
  'conntrack',
  'openssl',
  'busybox-static',
  'skopeo',
  'apache2-utils', // htpasswd -B: the registry accepts bcrypt only
];

/** One node: a kubelet with its own containerd, kube-proxy and kube-router. */
export interface NodeSpec {
  name: string;
  /** The node's InternalIP. */
  ip: string;
  /** Its pods' range (the controller manager allocates the same /24s, in this order). */
  podCidr: string;
  /** Its pods' bridge and gateway. */
  bridge: string;
  gateway: string;
  /** The network namespace it runs in; the first node runs in the host's. */
  netns?: string;
}

/**
 * The first node lives on the host, on our bridge (its address is also the API server's); the
 * second in a network namespace of its own, joined to the host by a veth pair in 10.244.255.0/30.
 */
export const NODES: NodeSpec[] = [
  { name: 'v6-node-1', ip: '10.244.0.1', podCidr: '10.244.0.0/24', bridge: 'v6br0', gateway: '10.244.0.1' },
  { name: 'v6-node-2', ip: '10.244.255.2', podCidr: '10.244.1.0/24', bridge: 'v6br1', gateway: '10.244.1.1', netns: 'v6-node-2' },
];
/** The host's end of the second node's veth pair. */
export const NODE2_LINK = { host: 'v6n2-host', node: 'v6n2-node', hostIp: '10.244.255.1', prefix: 30 };
/** How many nodes cluster:up starts (V6_CLUSTER_NODES=1 for one). */
export const NODE_COUNT = Number(process.env.V6_CLUSTER_NODES ?? '2');

const first = NODES[0] as NodeSpec;
export const NODE_NAME = first.name;
/** Our own bridge: the first node's address, its pods' gateway, the API server's advertise address. */
export const BRIDGE = first.bridge;
export const NODE_IP = first.ip;
export const POD_CIDR = first.podCidr;
export const CLUSTER_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
/** Stands for the internet in the node suite (TEST-NET-2, RFC 5737: routed nowhere outside the host). */
export const INTERNET_CIDR = '198.51.100.0/24';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/** CoreDNS listens on the node's bridge address; pods get it as their nameserver. */
export const DNS_IP = NODE_IP;
export const CLUSTER_DOMAIN = 'cluster.local';
/** The CNI network's name: CNI tags its iptables rules with it, down removes what carries it. */
export const CNI_NETWORK = 'v6-cluster';

export const API_PORT = 6443;
export const ETCD_CLIENT_PORT = 23790;
export const ETCD_PEER_PORT = 23800;
/** On the first node's address, not loopback: the other node's containerd (in its own namespace) pulls from it too. */
export const REGISTRY = `${NODE_IP}:5000`;
export const REGISTRY_USER = 'v6';
export const REGISTRY_PASSWORD = 'v6-cluster-registry';

/** Images the cluster itself needs, imported into containerd at start (never pulled). */
export const PAUSE_IMAGE = 'v6.local/pause:1';
export const BUSYBOX_IMAGE = 'v6.local/busybox:1';

export const paths = {
  pki: join(STATE_DIR, 'pki'),
  logs: join(STATE_DIR, 'logs'),
  pids: join(STATE_DIR, 'pids'),
  etc: join(STATE_DIR, 'etc'),
  etcd: join(STATE_DIR, 'etcd'),
  /** containerd/<node>/: each node's containerd root, state and socket. */
  containerd: join(STATE_DIR, 'containerd'),
  kubelet: join(STATE_DIR, 'kubelet'),
  /** pod-logs/<node>/: each kubelet's pod log folder (its podLogsDir). */
  podLogs: join(STATE_DIR, 'pod-logs'),
  cni: join(STATE_DIR, 'cni'),
  registry: join(STATE_DIR, 'registry'),
  storage: join(STATE_DIR, 'local-path'),
  images: join(STATE_DIR, 'images'),
  /** The admin kubeconfig that `cluster:up` prints. */
  kubeconfig: join(STATE_DIR, 'kubeconfig'),
  /** Host settings changed at up, restored at down. */
  sysctls: join(STATE_DIR, 'sysctls.json'),
};

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

export const NODE_NAME = 'v6-node-1';
/** Our own bridge: the node's address, the pods' gateway, the API server's advertise address. */
export const BRIDGE = 'v6br0';
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const CLUSTER_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/** CoreDNS listens on the node's bridge address; pods get it as their nameserver. */
export const DNS_IP = NODE_IP;
export const CLUSTER_DOMAIN = 'cluster.local';
/** The CNI network's name: CNI tags its iptables rules with it, down removes what carries it. */
export const CNI_NETWORK = 'v6-cluster';

export const API_PORT = 6443;
export const ETCD_CLIENT_PORT = 23790;
export const ETCD_PEER_PORT = 23800;
export const REGISTRY = '127.0.0.1:5000';
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
  containerd: join(STATE_DIR, 'containerd'),
  containerdSocket: join(STATE_DIR, 'containerd', 'containerd.sock'),
  kubelet: join(STATE_DIR, 'kubelet'),
  cni: join(STATE_DIR, 'cni'),
  registry: join(STATE_DIR, 'registry'),
  storage: join(STATE_DIR, 'local-path'),
  images: join(STATE_DIR, 'images'),
  /** The admin kubeconfig that `cluster:up` prints. */
  kubeconfig: join(STATE_DIR, 'kubeconfig'),
  /** Host settings changed at up, restored at down. */
  sysctls: join(STATE_DIR, 'sysctls.json'),
};

// The cluster's certificates and keys, made with the openssl CLI in the state dir: one CA signs
// every serving and client certificate; client identities are the subjects RBAC and the Node
// authorizer expect (system:masters, system:node:<name>, system:kube-*).
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER_DOMAIN, KUBERNETES_SERVICE_IP, NODE_IP, paths } from './config.js';
import { run } from './exec.js';

export interface KeyPair {
  cert: string;
  key: string;
}

export const CA: KeyPair = { cert: join(paths.pki, 'ca.crt'), key: join(paths.pki, 'ca.key') };
/** The ServiceAccount token signing key (the API server signs and verifies with it). */
export const SERVICE_ACCOUNT: KeyPair = { cert: join(paths.pki, 'sa.pub'), key: join(paths.pki, 'sa.key') };

const pair = (name: string): KeyPair => ({ cert: join(paths.pki, `${name}.crt`), key: join(paths.pki, `${name}.key`) });

async function newKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

interface Leaf {
  name: string;
  /** e.g. /O=system:masters/CN=admin */
  subject: string;
  /** subjectAltName entries, e.g. IP:127.0.0.1 */
  altNames?: string[];
  usage: 'serverAuth' | 'clientAuth' | 'serverAuth,clientAuth';
}

async function issue(leaf: Leaf): Promise<void> {
  const { cert, key } = pair(leaf.name);
  await newKey(key);
  const extensions = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${leaf.usage}`];
  if (leaf.altNames !== undefined) extensions.push(`subjectAltName=${leaf.altNames.join(',')}`);
  const args = ['req', '-x509', '-new', '-key', key, '-CA', CA.cert, '-CAkey', CA.key, '-subj', leaf.subject, '-days', '3650', '-out', cert];
  await run('openssl', [...args, ...extensions.flatMap((e) => ['-addext', e])]);
}

const NODE_SERVING = (node: string, ip: string): Leaf => ({ name: `kubelet-${node}`, subject: `/CN=${node}`, altNames: [`DNS:${node}`, `IP:${ip}`], usage: 'serverAuth' });
const NODE_CLIENT = (node: string): Leaf => ({ name: `node-${node}`, subject: `/O=system:nodes/CN=system:node:${node}`, usage: 'clientAuth' });

const LEAVES: Leaf[] = [
  {
    name: 'apiserver',
    subject: '/CN=kube-apiserver',
    altNames: ['IP:127.0.0.1', `IP:${NODE_IP}`, `IP:${KUBERNETES_SERVICE_IP}`, 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`],
    usage: 'serverAuth',
  },
  { name: 'etcd', subject: '/CN=etcd', altNames: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'serverAuth,clientAuth' },
  { name: 'loopback', subject: '/CN=v6-cluster-loopback', altNames: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'serverAuth' },
  { name: 'apiserver-etcd-client', subject: '/CN=kube-apiserver-etcd-client', usage: 'clientAuth' },
  { name: 'apiserver-kubelet-client', subject: '/O=system:masters/CN=kube-apiserver-kubelet-client', usage: 'clientAuth' },
  { name: 'admin', subject: '/O=system:masters/CN=v6-cluster-admin', usage: 'clientAuth' },
  { name: 'controller-manager', subject: '/CN=system:kube-controller-manager', usage: 'clientAuth' },
  { name: 'scheduler', subject: '/CN=system:kube-scheduler', usage: 'clientAuth' },
  { name: 'proxy', subject: '/CN=system:kube-proxy', usage: 'clientAuth' },
];

export const pki = {
  apiserver: pair('apiserver'),
  etcd: pair('etcd'),
  etcdClient: pair('apiserver-etcd-client'),
  /** The controller manager's and scheduler's serving certificate (they listen on loopback only). */
  loopback: pair('loopback'),
  kubeletClient: pair('apiserver-kubelet-client'),
  admin: pair('admin'),
  controllerManager: pair('controller-manager'),
  scheduler: pair('scheduler'),
  proxy: pair('proxy'),
  nodeServing: (node: string) => pair(`kubelet-${node}`),
  nodeClient: (node: string) => pair(`node-${node}`),
};

/** Makes the CA, the control plane's certificates and the service-account key (once per state dir). */
export async function ensureControlPlanePki(): Promise<void> {
  if (await stat(CA.cert).then(() => true, () => false)) return;
  await mkdir(paths.pki, { recursive: true, mode: 0o700 });
  await newKey(CA.key);
  await run('openssl', ['req', '-x509', '-new', '-key', CA.key, '-subj', '/CN=v6-cluster-ca', '-days', '3650', '-out', CA.cert, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  for (const leaf of LEAVES) await issue(leaf);
  await newKey(SERVICE_ACCOUNT.key);
  await run('openssl', ['pkey', '-in', SERVICE_ACCOUNT.key, '-pubout', '-out', SERVICE_ACCOUNT.cert]);
}

/** A node's kubelet serving certificate and its client identity for the Node authorizer. */
export async function ensureNodePki(node: string, ip: string): Promise<void> {
  if (await stat(pki.nodeClient(node).cert).then(() => true, () => false)) return;
  await issue(NODE_SERVING(node, ip));
  await issue(NODE_CLIENT(node));
}

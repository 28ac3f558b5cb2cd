// etcd and the control plane (API server, controller manager, scheduler), all from the one
// v6kube binary, each with its own certificate. The API server runs RBAC and the Node
// authorizer, the default admission plugins (PodSecurity among them) plus NodeRestriction, and
// signs ServiceAccount tokens with our key.
import { API_PORT, CLUSTER_CIDR, CLUSTER_DOMAIN, ETCD_CLIENT_PORT, ETCD_PEER_PORT, NODE_IP, SERVICE_CIDR, paths } from './config.js';
import { writeKubeconfig } from './kubeconfig.js';
import { CA, SERVICE_ACCOUNT, pki } from './pki.js';
import { httpsOk } from './probe.js';
import { startDaemon, waitUntil } from './processes.js';

const ETCD_URL = `https://127.0.0.1:${ETCD_CLIENT_PORT}`;

export async function startEtcd(v6kube: string): Promise<void> {
  const peer = `http://127.0.0.1:${ETCD_PEER_PORT}`;
  await startDaemon('etcd', v6kube, [
    'etcd',
    '--name=v6',
    `--data-dir=${paths.etcd}`,
    `--listen-client-urls=${ETCD_URL}`,
    `--advertise-client-urls=${ETCD_URL}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=v6=${peer}`,
    `--cert-file=${pki.etcd.cert}`,
    `--key-file=${pki.etcd.key}`,
    `--trusted-ca-file=${CA.cert}`,
    '--client-cert-auth',
    '--listen-metrics-urls=',
    // Test data, thrown away at down: durability buys nothing here and costs seconds per start.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await waitUntil('etcd to report healthy', 'etcd', () => httpsOk(`${ETCD_URL}/health`, pki.etcdClient));
}

export async function startApiServer(v6kube: string): Promise<void> {
  await startDaemon('apiserver', v6kube, [
    'apiserver',
    `--etcd-servers=${ETCD_URL}`,
    `--etcd-cafile=${CA.cert}`,
    `--etcd-certfile=${pki.etcdClient.cert}`,
    `--etcd-keyfile=${pki.etcdClient.key}`,
    `--bind-address=${NODE_IP}`,
    `--advertise-address=${NODE_IP}`,
    `--secure-port=${API_PORT}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true', // so that Pod Security, not the API server's own switch, rejects privileged pods
    `--client-ca-file=${CA.cert}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--kubelet-client-certificate=${pki.kubeletClient.cert}`,
    `--kubelet-client-key=${pki.kubeletClient.key}`,
    `--kubelet-certificate-authority=${CA.cert}`,
    // Reach kubelets by their node IP: a hostname would be looked up in the host's DNS, off the host.
    '--kubelet-preferred-address-types=InternalIP',
    `--service-account-key-file=${SERVICE_ACCOUNT.cert}`,
    `--service-account-signing-key-file=${SERVICE_ACCOUNT.key}`,
    `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
    '--profiling=false',
    '--v=1',
  ]);
  await waitUntil('the API server to be ready', 'apiserver', () => httpsOk(`https://${NODE_IP}:${API_PORT}/readyz`, pki.admin), 120_000);
}

/** The flags the controller manager and the scheduler share: one identity, serving on loopback, alone. */
function loopbackComponent(kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--tls-cert-file=${pki.loopback.cert}`,
    `--tls-private-key-file=${pki.loopback.key}`,
    '--leader-elect=false',
  ];
}

export async function startControllers(v6kube: string): Promise<void> {
  const cm = await writeKubeconfig('controller-manager', pki.controllerManager);
  await startDaemon('controller-manager', v6kube, [
    'controller-manager',
    ...loopbackComponent(cm),
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${SERVICE_ACCOUNT.key}`,
    `--root-ca-file=${CA.cert}`,
    `--cluster-signing-cert-file=${CA.cert}`,
    `--cluster-signing-key-file=${CA.key}`,
    '--cluster-name=v6-cluster',
    // Node pod ranges for kube-router (the first node gets the first /24, the range its CNI config names).
    '--allocate-node-cidrs=true',
    `--cluster-cidr=${CLUSTER_CIDR}`,
    '--node-cidr-mask-size=24',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--v=1',
  ]);
  const scheduler = await writeKubeconfig('scheduler', pki.scheduler);
  await startDaemon('scheduler', v6kube, [
    'scheduler',
    ...loopbackComponent(scheduler),
    '--v=1',
  ]);
  await waitUntil('the controller manager to be healthy', 'controller-manager', () => httpsOk('https://127.0.0.1:10257/healthz'));
  await waitUntil('the scheduler to be healthy', 'scheduler', () => httpsOk('https://127.0.0.1:10259/healthz'));
}

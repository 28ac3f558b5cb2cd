// vantage6-node 5.0.3, upstream's own node, installed on the test cluster beside ours. Its 5.0.3
// Helm chart is in no released package (the CLI installs it from ghcr.io), so the objects here are
// what the released node code asks of the cluster (agent/protocol/vantage6-5-protocol.md §5, §8):
//
// - the config.yaml the node reads (`vnode-local start -c`), with the keys of the CLI's
//   node_config_nonk8s.j2 and the chart's ConfigMap; name, API key, Keycloak and the databases
//   as the environment variables the chart gives (V6_NODE_NAME, V6_API_KEY, KEYCLOAK_URL,
//   KEYCLOAK_REALM, DATABASE_*), and V6_PROXY_HOST, the proxy Service the algorithms are given;
// - a ServiceAccount allowed what ContainerManager calls: `get` of its task namespace
//   (read_namespace), pods (test pod, isolation probe, watch until running, list by label,
//   delete), pods/log, Jobs (create, list every second, read, delete) and Secrets (the token,
//   the per-run registry login) in the task namespace;
// - hostPath volumes, as upstream uses: the task directory (`task_dir`, mounted at /app/tasks in
//   the node pod and given to every algorithm pod by its host path) and the CSV database (at
//   /app/databases/<label>.<type>, where the node looks for file databases). Both namespaces are
//   Pod Security "privileged": hostPath is refused by "baseline";
// - the task namespace's NetworkPolicies as upstream's chart makes them (the 5.0.0-rc2 chart, the
//   latest read, shared spec B8): nothing in or out by default, DNS and the node's proxy for
//   central_compute pods only.
//
// upstreamNodeObjects is the pure part; installUpstreamNode writes the host files and applies.
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DNS_IP, REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER, STATE_DIR } from '../lib/config.js';
import { kubectl, kubectlResult, until } from '../smoke/kube.js';

/** The proxy's port: node_proxy_port, upstream's DEFAULT_PROXY_PORT. */
export const PROXY_PORT = 7654;
/**
 * The user the node runs as: the test algorithm images' USER. Upstream's Job gives the algorithm
 * no securityContext and the node writes the run's output file as itself with mode 0644, so an
 * algorithm can write its output only when it runs as the node's user (vantage6's own algorithm
 * images run as root, like upstream's node image). Root here would leave the v6_session image,
 * which runs as 10000, unable to write its output.
 */
export const NODE_USER = 10000;
/** The database label the session flow extracts from. */
export const DATABASE_LABEL = 'default';
const APP = 'vantage6-node';
const PROXY_SERVICE = `${APP}-proxy`;

export interface UpstreamNodeOptions {
  /** The node's namespace; its runs go to `<namespace>-tasks`. */
  namespace: string;
  /** The node's name at the hub: it logs in as Keycloak client `<name>-node-client`. */
  nodeName: string;
  /** That client's secret (what HQ answered as `api_key`). */
  apiKey: string;
  /** HQ as pods reach it. */
  hq: { url: string; port: number; apiPath: string };
  /** Keycloak as pods reach it. */
  keycloak: { url: string; realm: string };
  /** The node image's reference in the cluster's registry. */
  image: string;
  /** The Kubernetes node the node pod runs on. */
  kubernetesNode: string;
  /** The host folder behind the hostPath volumes: `tasks/` and the database file. */
  hostDir: string;
  /** More environment variables for the node container (the benchmark's Kubernetes API address). */
  env?: Record<string, string>;
}

export const taskNamespaceOf = (namespace: string) => `${namespace}-tasks`;
export const databaseFileOf = (hostDir: string) => join(hostDir, 'data', `${DATABASE_LABEL}.csv`);
const taskDirOf = (hostDir: string) => join(hostDir, 'tasks');

/** The config.yaml the node process reads. */
export function upstreamNodeConfig(options: UpstreamNodeOptions): Record<string, unknown> {
  return {
    hq_url: options.hq.url,
    port: options.hq.port,
    api_path: options.hq.apiPath,
    node_proxy_port: PROXY_PORT,
    // The isolation probe runs curlimages/curl:latest, which nothing here can pull: with
    // production true the node would exit at start.
    production: false,
    task_dir: taskDirOf(options.hostDir),
    task_namespace: taskNamespaceOf(options.namespace),
    share_config: true,
    share_algorithm_logs: true,
    encryption: { enabled: false, private_key: null },
    logging: {
      level: 'INFO',
      file: `${options.nodeName}.log`,
      use_console: true,
      backup_count: 5,
      max_size: 1024,
      format: '%(asctime)s - %(name)-14s - %(levelname)-8s - %(message)s',
      datefmt: '%Y-%m-%d %H:%M:%S',
      loggers: ['urllib3', 'socketIO-client', 'socketio.server', 'engineio.server', 'sqlalchemy.engine', 'kubernetes.client.rest'].map((name) => ({ level: 'warning', name })),
    },
    policies: { require_algorithm_pull: true },
    prometheus: { enabled: false },
    // The node writes a docker-registry Secret per run from these and names it in the Job.
    private_docker_registries: [{ registry: REGISTRY, username: REGISTRY_USER, password: REGISTRY_PASSWORD }],
  };
}

const privileged = { 'pod-security.kubernetes.io/enforce': 'privileged' };
const selector = { 'app.kubernetes.io/name': APP };

/** Every object of one upstream node, in the order they are applied. */
export function upstreamNodeObjects(options: UpstreamNodeOptions): object[] {
  const { namespace } = options;
  const tasks = taskNamespaceOf(namespace);
  const account = { kind: 'ServiceAccount', name: APP, namespace };
  const clusterName = `${namespace}-${APP}`;
  const policy = (name: string, spec: object) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: tasks }, spec });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: privileged } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: tasks, labels: privileged } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: APP, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: clusterName },
      rules: [{ apiGroups: [''], resources: ['namespaces'], resourceNames: [tasks], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: clusterName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
      subjects: [account],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: APP, namespace: tasks },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['create', 'get', 'list', 'watch', 'delete'] },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'delete'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'list', 'delete'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: APP, namespace: tasks },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: APP },
      subjects: [account],
    },
    policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('central-compute-to-proxy', {
      podSelector: { matchLabels: { role: 'central_compute' } },
      policyTypes: ['Egress'],
      egress: [
        { to: [{ ipBlock: { cidr: `${DNS_IP}/32` } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } }, podSelector: { matchLabels: selector } }],
          ports: [{ protocol: 'TCP', port: PROXY_PORT }],
        },
      ],
    }),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: APP, namespace },
      // The config holds the registry's password: a Secret, not a ConfigMap.
      stringData: { 'config.yaml': stringify(upstreamNodeConfig(options)), 'api-key': options.apiKey },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'registry', namespace },
      type: 'kubernetes.io/dockerconfigjson',
      stringData: { '.dockerconfigjson': JSON.stringify({ auths: { [REGISTRY]: { username: REGISTRY_USER, password: REGISTRY_PASSWORD } } }) },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: PROXY_SERVICE, namespace },
      spec: { selector, ports: [{ name: 'proxy', port: PROXY_PORT, targetPort: PROXY_PORT }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, namespace },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: selector },
          spec: {
            serviceAccountName: APP,
            securityContext: { runAsUser: NODE_USER, runAsGroup: NODE_USER },
            nodeSelector: { 'kubernetes.io/hostname': options.kubernetesNode },
            imagePullSecrets: [{ name: 'registry' }],
            containers: [
              {
                name: 'node',
                image: options.image,
                env: [
                  { name: 'V6_NODE_NAME', value: options.nodeName },
                  { name: 'V6_API_KEY', valueFrom: { secretKeyRef: { name: APP, key: 'api-key' } } },
                  { name: 'KEYCLOAK_URL', value: options.keycloak.url },
                  { name: 'KEYCLOAK_REALM', value: options.keycloak.realm },
                  { name: 'V6_PROXY_HOST', value: `http://${PROXY_SERVICE}.${namespace}.svc.cluster.local` },
                  { name: 'DATABASE_LABELS', value: DATABASE_LABEL },
                  { name: `DATABASE_${DATABASE_LABEL.toUpperCase()}_URI`, value: databaseFileOf(options.hostDir) },
                  { name: `DATABASE_${DATABASE_LABEL.toUpperCase()}_TYPE`, value: 'csv' },
                  ...Object.entries(options.env ?? {}).map(([name, value]) => ({ name, value })),
                ],
                ports: [{ name: 'proxy', containerPort: PROXY_PORT }],
                volumeMounts: [
                  { name: 'config', mountPath: '/mnt/config', readOnly: true },
                  { name: 'log', mountPath: '/mnt/log' },
                  { name: 'data', mountPath: '/mnt/data' },
                  { name: 'tasks', mountPath: '/app/tasks' },
                  { name: 'database', mountPath: `/app/databases/${DATABASE_LABEL}.csv`, readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'config', secret: { secretName: APP, items: [{ key: 'config.yaml', path: 'config.yaml' }] } },
              { name: 'log', emptyDir: {} },
              { name: 'data', emptyDir: {} },
              { name: 'tasks', hostPath: { path: taskDirOf(options.hostDir), type: 'Directory' } },
              { name: 'database', hostPath: { path: databaseFileOf(options.hostDir), type: 'File' } },
            ],
          },
        },
      },
    },
  ];
}

export interface UpstreamNode {
  readonly namespace: string;
  readonly taskNamespace: string;
  /** The node pod's name, once there is one. */
  pod(): Promise<string>;
  /** The node's console log so far. */
  log(): Promise<string>;
  /** Namespaces, cluster objects and host folder removed. */
  close(): Promise<void>;
}

/** Where a node's hostPath folders go: under the cluster's state, which cluster:down removes. */
export const upstreamHostDir = (namespace: string) => join(STATE_DIR, 'upstream-node', namespace);

/** Writes the CSV and the task folder on the host, applies the objects, waits for the node pod to run. */
export async function installUpstreamNode(options: UpstreamNodeOptions & { csv: string }): Promise<UpstreamNode> {
  const { namespace, hostDir } = options;
  const objects = upstreamNodeObjects(options);
  const pod = async () => {
    let name = '';
    await until(`the vantage6-node pod in ${namespace}`, async () => {
      const found = await kubectlResult(['get', 'pods', '-n', namespace, '-l', `app.kubernetes.io/name=${APP}`, '-o', 'jsonpath={.items[0].metadata.name}']);
      name = found.stdout.trim();
      return found.ok && name !== '';
    });
    return name;
  };
  const node: UpstreamNode = {
    namespace,
    taskNamespace: taskNamespaceOf(namespace),
    pod,
    log: async () => kubectl(['logs', '-n', namespace, await pod()]),
    close: async () => {
      const clusterName = `${namespace}-${APP}`;
      await kubectlResult(['delete', 'namespace', namespace, taskNamespaceOf(namespace), '--wait=false']);
      await kubectlResult(['delete', 'clusterrole,clusterrolebinding', clusterName]);
      await rm(hostDir, { recursive: true, force: true });
    },
  };
  try {
    await mkdir(taskDirOf(hostDir), { recursive: true });
    await chown(taskDirOf(hostDir), NODE_USER, NODE_USER);
    await mkdir(join(hostDir, 'data'), { recursive: true });
    await writeFile(databaseFileOf(hostDir), options.csv, { mode: 0o644 });
    await kubectl(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
    await kubectl(['rollout', 'status', 'deployment', APP, '-n', namespace, '--timeout=240s']);
    return node;
  } catch (error) {
    await node.close();
    throw error;
  }
}

// One institution's node on the real cluster, installed as the README's "Installing on Kubernetes"
// tells its admin: a namespace of its own held to Pod Security "restricted", the API key (and the
// private key) as Secrets, a values file with the addresses found by kubectl, `helm install`. The
// node logs in at a vantage6 4.x server, or at a 5 hub (HQ and its Keycloak: the `hub` values).
// What the admin would not type here is the local registry: its pull Secret and image names.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ensureHelm } from '../../helm/install-helm.js';
import { REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER } from '../lib/config.js';
import { CommandError, run } from '../lib/exec.js';
import { KUBECONFIG, RESTRICTED_CONTAINER, TEST_IMAGE, apply, getJson, kubectl, kubectlResult, until, waitForPodPhase } from '../smoke/kube.js';
import type { NodeImages } from './images.js';

export const CHART = resolve(import.meta.dirname, '..', '..', '..', 'helm', 'v6-node');

export interface SiteOptions {
  /** The Helm release, e.g. `site-a`. */
  release: string;
  namespace: string;
  /** The vantage6 node's API key (for a 5 hub: its Keycloak client's secret). */
  apiKey: string;
  /** PEM of the organization's private key, for an encrypted collaboration. */
  privateKeyPem?: string;
  /** The vantage6 server as pods reach it; for a 5 hub, HQ. */
  server: { ip: string; port: number; apiPath: string };
  /** A vantage6 5 hub: the node's name there, and its Keycloak as pods reach it. */
  hub?: { nodeName: string; keycloak: { ip: string; port: number; realm: string } };
  images: NodeImages;
  /** The Kubernetes node the site's pods and data live on (local-path volumes are node-local). */
  kubernetesNode: string;
  /** The CSV behind the database labelled `default` (file `patients.csv` on the claim `research-data`). */
  csv: string;
  /** Values beyond the README's (merged last). */
  values?: Record<string, unknown>;
}

export interface Site {
  readonly release: string;
  readonly namespace: string;
  readonly valuesFile: string;
  /** `helm <args>` against the cluster, as the admin types it. */
  helm(args: string[]): Promise<string>;
  /** The node pod (agent + proxy) by name, once there is one. */
  nodePod(): Promise<string>;
  /** The agent container's log so far (and the previous container's, when it restarted). */
  agentLog(): Promise<string>;
  /** What the agent's /metrics serves, read from inside its container (the port is closed to others). */
  agentMetrics(): Promise<string>;
  /** What `script` prints, run in the agent's container by the image's node (`node -e`): how a test reads the task volume. */
  agentNode(script: string): Promise<string>;
  /** `helm uninstall` and the namespace deleted. */
  close(): Promise<void>;
}

/** Prints the agent's metrics, run inside its container with the image's node. */
const METRICS_READER = "fetch('http://127.0.0.1:9464/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))";

async function helmRun(args: string[]): Promise<string> {
  const helm = await ensureHelm();
  try {
    return await run(helm, args, { env: { ...process.env, KUBECONFIG }, timeoutMs: 300_000 });
  } catch (error) {
    if (error instanceof CommandError) throw new Error(`helm ${args.join(' ')}: ${error.stderr}`, { cause: error });
    throw error;
  }
}

/** The API server's real endpoint as `kubectl get endpoints kubernetes -n default` shows it. */
export async function kubernetesApiEndpoint(): Promise<{ ip: string; port: number }> {
  const endpoints = await getJson<{ subsets: { addresses: { ip: string }[]; ports: { port: number }[] }[] }>('default', 'endpoints', 'kubernetes');
  const subset = endpoints.subsets[0]!;
  return { ip: subset.addresses[0]!.ip, port: subset.ports[0]!.port };
}

/** The README's step 4 values, with this cluster's addresses and the local registry's images. */
export function readmeValues(options: SiteOptions, api: { ip: string; port: number }): Record<string, unknown> {
  const { server, hub, images } = options;
  // A 5 node reaches HQ and Keycloak (README step 4: networkPolicy.server covers both).
  const reached = [server, ...(hub === undefined ? [] : [hub.keycloak])];
  return {
    apiKey: { existingSecret: 'node-credentials' },
    ...(hub === undefined
      ? { server: { url: `http://${server.ip}`, port: server.port, apiPath: server.apiPath } }
      : {
          hub: {
            url: `http://${server.ip}`,
            port: server.port,
            apiPath: server.apiPath,
            nodeName: hub.nodeName,
            keycloak: { url: `http://${hub.keycloak.ip}:${hub.keycloak.port}`, realm: hub.keycloak.realm },
          },
        }),
    networkPolicy: {
      server: { cidrs: [...new Set(reached.map((r) => `${r.ip}/32`))], ports: reached.map((r) => r.port) },
      kubernetesApi: { cidrs: [`${api.ip}/32`], ports: [api.port] },
      // This cluster's CoreDNS runs on the node itself, not as a pod (README: networkPolicy.dns).
      dns: { cidrs: [`${REGISTRY.split(':')[0]}/32`] },
    },
    databases: [{ label: 'default', type: 'csv', uri: 'patients.csv', volume: { existingClaim: 'research-data' } }],
    policies: { allowedAlgorithms: images.allowedAlgorithms },
    ...(options.privateKeyPem === undefined ? {} : { encryption: { enabled: true, privateKey: { existingSecret: 'org-private-key' } } }),
    // Addresses aside: the local registry.
    image: { repository: images.node.repository, tag: images.node.tag, digest: images.node.digest },
    imagePullSecrets: ['registry'],
    algorithms: { imagePullSecrets: ['registry'] },
    redis: { image: { repository: images.redis.repository, tag: images.redis.tag, digest: images.redis.digest } },
    nodeSelector: { 'kubernetes.io/hostname': options.kubernetesNode },
  };
}

function merge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current !== null && !Array.isArray(current)
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** The data claim `research-data` with `patients.csv`, copied on by a pod as an admin would. */
async function loadDatabase(namespace: string, node: string, csv: string): Promise<void> {
  await apply(
    namespace,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'patients-csv' }, data: { 'patients.csv': csv } },
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'research-data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'load-data' },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: { 'kubernetes.io/hostname': node },
        containers: [
          {
            name: 'copy',
            image: TEST_IMAGE,
            command: ['sh', '-c', 'cp /csv/patients.csv /data/patients.csv && chmod 0644 /data/patients.csv'],
            securityContext: RESTRICTED_CONTAINER,
            volumeMounts: [
              { name: 'data', mountPath: '/data' },
              { name: 'csv', mountPath: '/csv' },
            ],
          },
        ],
        volumes: [
          { name: 'data', persistentVolumeClaim: { claimName: 'research-data' } },
          { name: 'csv', configMap: { name: 'patients-csv' } },
        ],
      },
    },
  );
  await waitForPodPhase(namespace, 'load-data', 'Succeeded', 120_000);
  await kubectl(['delete', 'pod', 'load-data', '-n', namespace, '--wait=false']);
}

/** Installs the site and waits until its node pod is Ready (2/2) and Redis is Ready. */
export async function installSite(options: SiteOptions): Promise<Site> {
  const { namespace, release } = options;
  const dir = await mkdtemp(join(tmpdir(), `v6-site-${release}-`));
  const valuesFile = join(dir, 'my-node.yaml');
  const agentNode = async (script: string) =>
    kubectl(['exec', '-n', namespace, await podOf(namespace, release, 'node'), '-c', 'agent', '--', 'node', '-e', script]);
  const site: Site = {
    release,
    namespace,
    valuesFile,
    helm: helmRun,
    nodePod: () => podOf(namespace, release, 'node'),
    agentLog: async () => {
      const pod = await podOf(namespace, release, 'node');
      const previous = await kubectlResult(['logs', '-n', namespace, pod, '-c', 'agent', '--previous']);
      return `${previous.ok ? previous.stdout : ''}${await kubectl(['logs', '-n', namespace, pod, '-c', 'agent'])}`;
    },
    agentMetrics: () => agentNode(METRICS_READER),
    agentNode,
    close: async () => {
      await helmRun(['uninstall', release, '-n', namespace, '--wait']).catch(() => undefined);
      await kubectlResult(['delete', 'namespace', namespace, '--wait=false']);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    // Step 3: the namespace, held to "restricted", and the Secrets.
    await kubectl(['create', 'namespace', namespace]);
    await kubectl(['label', 'ns', namespace, 'pod-security.kubernetes.io/enforce=restricted']);
    await until(`ServiceAccount default in ${namespace}`, async () => (await kubectlResult(['get', 'sa', 'default', '-n', namespace])).ok, 30_000);
    await kubectl(['-n', namespace, 'create', 'secret', 'generic', 'node-credentials', `--from-literal=api-key=${options.apiKey}`]);
    if (options.privateKeyPem !== undefined) {
      const keyFile = join(dir, 'private_key.pem');
      await writeFile(keyFile, options.privateKeyPem, { mode: 0o600 });
      await kubectl(['-n', namespace, 'create', 'secret', 'generic', 'org-private-key', `--from-file=private-key.pem=${keyFile}`]);
    }
    await kubectl(['-n', namespace, 'create', 'secret', 'docker-registry', 'registry', `--docker-server=${REGISTRY}`, `--docker-username=${REGISTRY_USER}`, `--docker-password=${REGISTRY_PASSWORD}`]);
    await loadDatabase(namespace, options.kubernetesNode, options.csv);
    // Step 4: the values, with the addresses found first.
    await writeFile(valuesFile, stringify(merge(readmeValues(options, await kubernetesApiEndpoint()), options.values ?? {})));
    // Step 5: install and check.
    await helmRun(['install', release, CHART, '-n', namespace, '-f', valuesFile]);
    await waitForReady(namespace, release);
    return site;
  } catch (error) {
    await site.close();
    throw error;
  }
}

/** The name of the release's pod of a component (node, redis), once it exists. */
export async function podOf(namespace: string, release: string, component: string): Promise<string> {
  let name = '';
  await until(`a ${component} pod of ${release}`, async () => {
    const pods = await getJson<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>(
      namespace,
      'pods',
      '-l',
      `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${component}`,
    );
    name = pods.items.find((p) => p.metadata.deletionTimestamp === undefined)?.metadata.name ?? '';
    return name !== '';
  });
  return name;
}

/** Every container of the release's node and Redis pods Ready; on a timeout the error carries their state. */
export async function waitForReady(namespace: string, release: string, timeoutMs = 240_000): Promise<void> {
  for (const component of ['redis', 'node']) {
    // kubectl wait fails at once when nothing matches yet: wait for the pod to exist first.
    const pod = await podOf(namespace, release, component);
    const waited = await kubectlResult(['wait', '-n', namespace, '--for=condition=Ready', 'pod', pod, `--timeout=${timeoutMs / 1000}s`]);
    if (!waited.ok) {
      const state = await kubectlResult(['get', 'pods', '-n', namespace, '-o', 'wide']);
      const events = await kubectlResult(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']);
      throw new Error(`${release} (${component}) not Ready: ${waited.stderr}\n${state.stdout}\n${events.stdout.split('\n').slice(-25).join('\n')}`);
    }
  }
}

// The kubeconfig file a client (client-node, kubectl) uses to reach the simulated cluster.
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export const kubeconfigNames = { cluster: 'sim-cluster', user: 'sim-user', context: 'sim' } as const;

/** Kubeconfig text for a plain-HTTP server at `server`, a token user and the default namespace. */
export function kubeconfigYaml(server: string): string {
  const { cluster, user, context } = kubeconfigNames;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token: 'sim-token' } }],
    contexts: [{ name: context, context: { cluster, user, namespace: 'default' } }],
    'current-context': context,
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, server: string): Promise<void> {
  await writeFile(path, kubeconfigYaml(server), { mode: 0o600 });
}

// Kubeconfig files for the cluster's clients: one per identity, all naming the CA and the API
// server on the node address (the bridge), where it listens.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { API_PORT, NODE_IP, paths } from './config.js';
import { CA, type KeyPair } from './pki.js';

export const API_URL = `https://${NODE_IP}:${API_PORT}`;

export const kubeconfigPath = (identity: string) => (identity === 'admin' ? paths.kubeconfig : join(paths.etc, `${identity}.kubeconfig`));

export async function writeKubeconfig(identity: string, credentials: KeyPair, server = API_URL): Promise<string> {
  const path = kubeconfigPath(identity);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'v6-cluster', cluster: { server, 'certificate-authority': CA.cert } }],
    users: [{ name: identity, user: { 'client-certificate': credentials.cert, 'client-key': credentials.key } }],
    contexts: [{ name: 'v6-cluster', context: { cluster: 'v6-cluster', user: identity } }],
    'current-context': 'v6-cluster',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

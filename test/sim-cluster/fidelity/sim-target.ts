// The simulated cluster as a conversation target: started in a folder of its own with its
// default controllers, the busybox image standing for the host's sh.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startSimCluster } from '../index.js';
import { converse, type ConversationTarget } from './conversation.js';

/** The image the real cluster's conversation runs (test/cluster/lib/config.ts BUSYBOX_IMAGE). */
export const CONVERSATION_IMAGE = 'v6.local/busybox:1';
export const MISSING_IMAGE = 'v6.local/no-such-image:1';

/** The conversation held with a fresh simulated cluster, which is closed again after it. */
export async function converseWithSimulation(timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const stateDir = await mkdtemp(join(tmpdir(), 'v6-sim-fidelity-'));
  const cluster = await startSimCluster({ stateDir, images: { [CONVERSATION_IMAGE]: {} } });
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const namespace = `conversation-${randomBytes(3).toString('hex')}`;
    cluster.store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    const target: ConversationTarget = { kubeConfig, namespace, image: CONVERSATION_IMAGE, missingImage: MISSING_IMAGE, timeoutMs };
    return await converse(target);
  } finally {
    await cluster.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

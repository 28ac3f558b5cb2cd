import { BatchV1Api, type KubeConfig } from '@kubernetes/client-node';
import { within } from '../within.js';

/**
 * Whether the Kubernetes API answers the agent: one LIST of at most one of this node's Jobs (a
 * call the agent's Role allows), within `timeoutMs`. For readiness; never throws.
 */
export function clusterReachability(kubeConfig: KubeConfig, namespace: string, labelSelector: string, timeoutMs = 3_000): () => Promise<boolean> {
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  return () =>
    within(
      batch.listNamespacedJob({ namespace, labelSelector, limit: 1 }).then(
        () => true,
        () => false,
      ),
      timeoutMs,
      false,
    );
}

import { BatchV1Api, type KubeConfig } from '@kubernetes/client-node';

/** Resolves to `fallback` when `promise` has not settled within `ms`; never rejects if `promise` is caught by the caller. */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

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

/**
 * A promise with a time limit, for probes that must answer in time. No dependencies: the proxy
 * uses it too, and must not load the agent's Kubernetes client for it.
 */

/** Resolves to `fallback` when `promise` has not settled within `ms`; never rejects if `promise` is caught by the caller. */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

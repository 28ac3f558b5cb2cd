// Every Kubernetes API call of a process on kept-alive connections. client-node 2.0.1 builds a new
// undici Agent for every request in `KubeConfig.applySecurityAuthentication` whenever the cluster
// has TLS options (a CA, client certificates, or insecure-skip-tls-verify: in a pod, always); its
// cached `createAgent` serves only the https.Agent of `applyToHTTPSOptions`. So each call paid a
// TCP and TLS handshake and left a pool behind. `reuseConnections` makes the calls for one cluster
// and user share one dispatcher, keyed as client-node keys its own agent cache.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';

export interface KubeConnections {
  readonly kubeConfig: KubeConfig;
  /** Ends the shared connections, aborting what is still in flight (the agent closes it last). Idempotent. */
  close(): Promise<void>;
}

/**
 * A view of `kubeConfig` whose API calls reuse connections, with a pool of its own: the view is
 * an object whose prototype is `kubeConfig` (so it reads the same clusters, users and context)
 * with its own `applySecurityAuthentication`, so each agent closes only its own connections.
 */
export function reuseConnections(kubeConfig: KubeConfig): KubeConnections {
  const pool = new Map<string, Dispatcher>();
  const view = Object.create(kubeConfig) as KubeConfig;
  view.applySecurityAuthentication = async (context) => {
    await kubeConfig.applySecurityAuthentication.call(view, context);
    // The fresh dispatcher it set is dropped unused (it has opened nothing yet).
    const fresh = context.getDispatcher();
    if (fresh === undefined) return; // no TLS options: undici's global dispatcher, which keeps alive
    const cluster = view.getCurrentCluster();
    const user = view.getCurrentUser();
    const key = JSON.stringify([cluster?.name, cluster?.server, cluster?.proxyUrl, user?.name]);
    let shared = pool.get(key);
    if (shared === undefined) {
      shared = fresh;
      pool.set(key, shared);
    }
    context.setDispatcher(shared);
  };
  let closing: Promise<void> | undefined;
  return {
    kubeConfig: view,
    close: () => {
      closing ??= Promise.all([...pool.values()].map((dispatcher) => dispatcher.destroy())).then(() => pool.clear());
      return closing;
    },
  };
}

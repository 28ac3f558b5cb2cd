// startSimCluster: a simulated Kubernetes cluster (API server, store, controllers) for tests.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiServer } from './api-server.js';
import { Authorizer } from './authorization.js';
import { defaultControllers, type Controller, type ControllerOptions } from './controllers.js';
import { Faults, type FaultSettings } from './faults.js';
import { writeKubeconfig } from './kubeconfig.js';
import { Store } from './store.js';

export { ApiError, Store, type KubeObject, type ObjectMeta, type OwnerReference, type StoreEvent, type WatchEventType } from './store.js';
export type { Controller, ControllerOptions, PodLogStreamer } from './controllers.js';
export type { Faults, FaultSettings } from './faults.js';
export type { AccessAttributes, Authorizer, DenyRule } from './authorization.js';

export interface SimClusterOptions {
  /** Port on 127.0.0.1; 0 or unset picks a free one. */
  port?: number;
  /** Directory for the kubeconfig and the controllers' state; created when missing. */
  stateDir: string;
  /** Image map for the kubelet (a file path or the map); passed through to the controllers. */
  images?: string | object;
  /** PersistentVolumeClaim name → host directory; passed through to the controllers. */
  pvcs?: Record<string, string>;
  faults?: Partial<FaultSettings>;
  /** BOOKMARK interval on watches that allow them (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** Store events kept for watch resumption (default 1000); older resourceVersions get 410 Expired. */
  historySize?: number;
  /** The controllers to run; defaults to defaultControllers from ./controllers.js. */
  controllers?: (store: Store, options: ControllerOptions) => Controller[];
}

export interface SimCluster {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** <stateDir>/kubeconfig: for KubeConfig.loadFromFile and kubectl --kubeconfig. */
  readonly kubeconfigPath: string;
  readonly store: Store;
  readonly faults: Faults;
  /** TCP connections accepted and requests served by the API server so far. */
  traffic(): { connections: number; requests: number };
  /** Who may do what: everything unless a test calls `deny` (requests get 403, SelfSubjectAccessReviews `allowed: false`). */
  readonly access: Authorizer;
  /** Stops the controllers (in reverse start order), then the API server; idempotent. */
  close(): Promise<void>;
}

export async function startSimCluster(options: SimClusterOptions): Promise<SimCluster> {
  await mkdir(options.stateDir, { recursive: true });
  const store = new Store({ ...(options.historySize === undefined ? {} : { historySize: options.historySize }) });
  const faults = new Faults(options.faults);
  const access = new Authorizer();
  const controllers = (options.controllers ?? defaultControllers)(store, {
    stateDir: options.stateDir,
    ...(options.images === undefined ? {} : { images: options.images }),
    pvcs: options.pvcs ?? {},
  });
  const streamPodLog = controllers.find((c) => c.streamPodLog !== undefined)?.streamPodLog;
  const server = new ApiServer({
    store,
    faults,
    authorizer: access,
    ...(options.bookmarkIntervalMs === undefined ? {} : { bookmarkIntervalMs: options.bookmarkIntervalMs }),
    ...(streamPodLog === undefined ? {} : { streamPodLog }),
  });
  const stopControllers = async (): Promise<void> => {
    for (const controller of [...controllers].reverse()) await controller.close();
  };
  let port: number;
  try {
    port = await server.listen(options.port ?? 0);
  } catch (error) {
    await stopControllers();
    faults.close();
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  const kubeconfigPath = join(options.stateDir, 'kubeconfig');
  await writeKubeconfig(kubeconfigPath, url);
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    kubeconfigPath,
    store,
    faults,
    traffic: () => server.traffic(),
    access,
    close: () => {
      closing ??= (async () => {
        await stopControllers();
        faults.close();
        await server.close();
      })();
      return closing;
    },
  };
}

// The controllers the simulated cluster starts next to its API server (Job controller, kubelet).
// THE single spot where they are wired in: startSimCluster calls defaultControllers unless the
// caller passes its own list.
import type { Store } from './store.js';

export interface Closeable {
  close(): Promise<void> | void;
}

/** Reads a container's log for `GET pods/{name}/log`; undefined when there is none (yet). */
export type PodLogReader = (namespace: string, pod: string, container: string | undefined) => Promise<string | undefined>;

/** A started controller; one of them (the kubelet) may serve pod logs. */
export interface Controller extends Closeable {
  readPodLog?: PodLogReader;
}

export interface ControllerOptions {
  /** Directory for the controllers' state (container work dirs, logs). */
  stateDir: string;
  /** Image map for the kubelet: a file path or the map itself; passed through unchanged. */
  images?: string | object;
  /** PersistentVolumeClaim name → host directory mounted for it. */
  pvcs: Readonly<Record<string, string>>;
}

export function defaultControllers(_store: Store, _options: ControllerOptions): Controller[] {
  return [];
}

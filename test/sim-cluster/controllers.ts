// The controllers the simulated cluster starts next to its API server (Job controller, kubelet).
// THE single spot where they are wired in: startSimCluster calls defaultControllers unless the
// caller passes its own list.
import type { Readable } from 'node:stream';
import { JobController } from './job-controller.js';
import { Kubelet } from './kubelet.js';
import type { LogReadOptions } from './container-log.js';
import type { ImageMap } from './image-map.js';
import type { Store } from './store.js';
import { TtlAfterFinishedController } from './ttl-controller.js';

export interface Closeable {
  close(): Promise<void> | void;
}

/**
 * Streams a container's log for `GET pods/{name}/log?follow=…&tailLines=…&sinceTime=…&timestamps=…`.
 * Throws the ApiError to answer with: 404 for a missing pod, 400 when the container must be named
 * or is still waiting. With `follow` the stream ends when the container terminates.
 */
export type PodLogStreamer = (namespace: string, pod: string, container: string | undefined, options: LogReadOptions) => Readable;

/** A started controller; one of them (the kubelet) may serve pod logs. */
export interface Controller extends Closeable {
  streamPodLog?: PodLogStreamer;
}

export interface ControllerOptions {
  /** Directory for the controllers' state (container work dirs, logs). */
  stateDir: string;
  /** Image map for the kubelet: a file path or the map itself; passed through unchanged. */
  images?: string | object;
  /** PersistentVolumeClaim name → host directory mounted for it. */
  pvcs: Readonly<Record<string, string>>;
  /** The node's name (default 'sim-node'). */
  nodeName?: string;
  /** Delay before a failed Job pod is replaced, doubling per failure (default 0; real Kubernetes 10 s). */
  podRetryBackoffMs?: number;
  /** Cap on pods' terminationGracePeriodSeconds (default 2000 ms). */
  maxGracePeriodMs?: number;
  /** How long an unknown image shows ErrImagePull before ImagePullBackOff (default 1000 ms). */
  imagePullBackOffMs?: number;
  /** Called when a controller's sync fails (it is retried). */
  onError?: (key: string, error: unknown) => void;
}

/** Starts, in this order, the Job controller, the TTL-after-finished controller and the kubelet. */
export function defaultControllers(store: Store, options: ControllerOptions): Controller[] {
  const onError = options.onError ? { onError: options.onError } : {};
  const kubelet = new Kubelet(store, {
    stateDir: options.stateDir,
    ...(options.images === undefined ? {} : { images: options.images as string | ImageMap }),
    pvcs: options.pvcs,
    ...(options.nodeName === undefined ? {} : { nodeName: options.nodeName }),
    ...(options.maxGracePeriodMs === undefined ? {} : { maxGracePeriodMs: options.maxGracePeriodMs }),
    ...(options.imagePullBackOffMs === undefined ? {} : { imagePullBackOffMs: options.imagePullBackOffMs }),
    ...onError,
  });
  return [
    new JobController(store, { ...(options.podRetryBackoffMs === undefined ? {} : { podRetryBackoffMs: options.podRetryBackoffMs }), ...onError }),
    new TtlAfterFinishedController(store, onError),
    {
      close: () => kubelet.close(),
      streamPodLog: (namespace, pod, container, logOptions) => kubelet.logs(namespace, pod, container, logOptions),
    },
  ];
}

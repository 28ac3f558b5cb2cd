// When each task's Job appeared and its algorithm pod first ran, as a watch on the cluster sees
// them, in milliseconds on arrival: the objects' own timestamps have one-second resolution. Keyed
// by the task id label the agent puts on both.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { LabelKey } from '../../agent/kube/names.js';

export interface RunTimeline {
  /** Task id → when its Job was first seen. */
  readonly jobCreated: ReadonlyMap<number, number>;
  /** Task id → when its pod was first seen Running. */
  readonly podRunning: ReadonlyMap<number, number>;
  close(): void;
}

interface Labelled {
  metadata?: { labels?: Record<string, string> };
  status?: { phase?: string };
}

/** Watches Jobs and pods of every namespace (a watch that ends is started again until `close`). */
export async function watchRunTimeline(kubeConfig: KubeConfig): Promise<RunTimeline> {
  const jobCreated = new Map<number, number>();
  const podRunning = new Map<number, number>();
  const watch = new Watch(kubeConfig);
  const controllers = new Set<AbortController>();
  let closed = false;
  const first = (map: Map<number, number>, object: Labelled) => {
    const taskId = Number(object.metadata?.labels?.[LabelKey.TaskId]);
    if (Number.isInteger(taskId) && !map.has(taskId)) map.set(taskId, Date.now());
  };
  const follow = async (path: string, seen: (object: Labelled) => void): Promise<void> => {
    const controller = await watch.watch(path, { labelSelector: LabelKey.TaskId }, (_type, object: Labelled) => seen(object), () => {
      controllers.delete(controller);
      if (!closed) void follow(path, seen);
    });
    controllers.add(controller);
  };
  await follow('/apis/batch/v1/jobs', (job) => first(jobCreated, job));
  await follow('/api/v1/pods', (pod) => {
    if (pod.status?.phase === 'Running') first(podRunning, pod);
  });
  return {
    jobCreated,
    podRunning,
    close: () => {
      closed = true;
      for (const controller of controllers) controller.abort();
    },
  };
}

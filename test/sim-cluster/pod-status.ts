// A pod's status from its containers' states, as the kubelet's status manager computes it:
// phase (restartPolicy Never: a container is never restarted), container statuses and the
// PodReadyToStartContainers, Initialized, ContainersReady and Ready conditions. Pure.
import type { IContainerState } from 'kubernetes-models/v1/ContainerState';
import type { IContainerStatus } from 'kubernetes-models/v1/ContainerStatus';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodCondition } from 'kubernetes-models/v1/PodCondition';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import { rfc3339 } from './clock.js';

export interface ObservedContainer {
  state: IContainerState;
  /** Set once the process exists. */
  containerID?: string;
  imageID?: string;
}

/** What the kubelet knows: the sandbox (volumes, IP) is up, and each container's state by name. */
export interface ObservedPod {
  sandboxReady: boolean;
  /**
   * The containers have just ended on their own: a real kubelet writes their terminated states
   * with the pod still Running, and the terminal phase in its next sync.
   */
  justEnded?: boolean;
  hostIP: string;
  containers: ReadonlyMap<string, ObservedContainer>;
}

export function podPhase(states: IContainerState[]): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  if (states.length > 0 && states.every((s) => s.terminated !== undefined)) {
    return states.every((s) => s.terminated!.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  return states.some((s) => s.running !== undefined || s.terminated !== undefined) ? 'Running' : 'Pending';
}

/** The status to write for `pod` given what the kubelet observed at `now`. */
export function podStatusFor(pod: IPod, observed: ObservedPod, now: number): IPodStatus {
  const previous = pod.status ?? {};
  const containerStatuses: IContainerStatus[] = pod.spec!.containers.map((container) => {
    const seen = observed.containers.get(container.name);
    const state = seen?.state ?? { waiting: { reason: 'ContainerCreating' } };
    const running = state.running !== undefined;
    return {
      name: container.name,
      image: container.image ?? '',
      imageID: seen?.imageID ?? '',
      ...(seen?.containerID ? { containerID: seen.containerID } : {}),
      ready: running,
      started: running,
      restartCount: 0,
      state,
      lastState: {},
      // A created container's resources as the runtime reports them (none set here); a waiting one has none.
      ...(state.waiting === undefined ? { resources: {} } : {}),
    };
  });
  const judged = podPhase(containerStatuses.map((s) => s.state!));
  const phase = observed.justEnded === true && judged !== 'Pending' ? 'Running' : judged;
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const unready = containerStatuses.filter((s) => !s.ready).map((s) => s.name);
  const notReady = terminal
    ? { status: 'False' as const, reason: phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed' }
    : { status: 'False' as const, reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
  const readiness = unready.length === 0 && !terminal ? { status: 'True' as const } : notReady;
  const generation = pod.metadata?.generation;
  const conditions: IPodCondition[] = [
    { type: 'PodReadyToStartContainers', status: observed.sandboxReady && !terminal ? 'True' : 'False' },
    { type: 'Initialized', status: 'True', ...(phase === 'Succeeded' ? { reason: 'PodCompleted' } : {}) },
    { type: 'Ready', ...readiness },
    { type: 'ContainersReady', ...readiness },
    ...(previous.conditions ?? []).filter((c) => c.type === 'PodScheduled'),
  ].map((c) => ({ ...withTransitionTime(c, previous.conditions ?? [], now), lastProbeTime: null /* the kubelet writes null */, ...(generation === undefined ? {} : { observedGeneration: generation }) }) as unknown as IPodCondition);
  const startedAt = previous.startTime ?? rfc3339(now);
  return {
    ...previous,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    phase,
    conditions,
    hostIP: observed.hostIP,
    hostIPs: [{ ip: observed.hostIP }],
    ...(observed.sandboxReady ? { podIP: observed.hostIP, podIPs: [{ ip: observed.hostIP }] } : {}),
    startTime: startedAt,
    containerStatuses,
  };
}

/** Keeps a condition's lastTransitionTime while its status stays the same. */
function withTransitionTime(condition: IPodCondition, previous: IPodCondition[], now: number): IPodCondition {
  const before = previous.find((c) => c.type === condition.type);
  const lastTransitionTime = before && before.status === condition.status ? before.lastTransitionTime : rfc3339(now);
  return { ...condition, lastTransitionTime };
}

/**
 * What the agent keeps of a Job or pod in its informer caches (issue 13): the fields the
 * reconciler, capacity, killer, quota and status read, without managed fields, env, volumes,
 * probes and the rest of the pod template, which are most of a real object's bytes. Pure.
 *
 * Read from the cache: metadata (name, namespace, uid, resourceVersion, labels, annotations,
 * creation and deletion times, owners), the Job's `activeDeadlineSeconds` and container images,
 * each container's name, image and resources, the pod's node, and every status.
 */
import type { V1Container, V1Job, V1ObjectMeta, V1Pod, V1PodSpec } from '@kubernetes/client-node';

function meta(metadata: V1ObjectMeta | undefined): V1ObjectMeta | undefined {
  if (metadata === undefined) return undefined;
  const { name, namespace, uid, resourceVersion, labels, annotations, creationTimestamp, deletionTimestamp, ownerReferences, generation } = metadata;
  return defined({ name, namespace, uid, resourceVersion, labels, annotations, creationTimestamp, deletionTimestamp, ownerReferences, generation });
}

function containers(list: V1Container[] | undefined): V1Container[] {
  return (list ?? []).map(({ name, image, resources }) => defined({ name, image, resources }) as V1Container);
}

function podSpec(spec: V1PodSpec | undefined): V1PodSpec | undefined {
  if (spec === undefined) return undefined;
  return defined({ containers: containers(spec.containers), nodeName: spec.nodeName, restartPolicy: spec.restartPolicy }) as V1PodSpec;
}

/** A Job as the agent caches it. */
export function cachedJob(job: V1Job): V1Job {
  const spec = job.spec;
  return defined({
    apiVersion: job.apiVersion,
    kind: job.kind,
    metadata: meta(job.metadata),
    spec:
      spec === undefined
        ? undefined
        : defined({
            activeDeadlineSeconds: spec.activeDeadlineSeconds,
            backoffLimit: spec.backoffLimit,
            ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
            template: defined({ spec: podSpec(spec.template?.spec) }),
          }),
    status: job.status,
  }) as V1Job;
}

/** A pod as the agent caches it. */
export function cachedPod(pod: V1Pod): V1Pod {
  return defined({ apiVersion: pod.apiVersion, kind: pod.kind, metadata: meta(pod.metadata), spec: podSpec(pod.spec), status: pod.status }) as V1Pod;
}

/** `object` without its undefined fields, so a stripped object compares like the API's. */
function defined<T extends object>(object: T): T {
  for (const key of Object.keys(object) as (keyof T)[]) if (object[key] === undefined) delete object[key];
  return object;
}

// The Kubernetes objects of one run: a Job running the algorithm image under the Pod Security
// Standards "restricted" profile, and a Secret holding its container token and the configured
// environment values (credentials stay out of the Job, which more may read). Pure: run, node and
// config in, objects out; the agent creates them (Job first, then the Secret owned by it).
import type { V1Affinity, V1Job, V1ObjectMeta, V1ResourceRequirements, V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { Config, ImageOverride, ResourceRequirements } from '../config.js';
import { matchesAllowedImage } from '../protocol/policy.js';
import { algorithmEnv, type TaskDatabase } from './algorithm-env.js';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from './hardening.js';
import { OwnerUidMissingError } from './errors.js';
import { ALGORITHM_CONTAINER, AnnotationKey, algorithmPodLabels, jobTmpFolderName, runFolderName, runLabels, runObjectName } from './names.js';
import { SCRATCH_MOUNT, TEMPORARY_FOLDER, TOKEN_KEY, TOKEN_MOUNT, databaseMountPath, runDataPath } from './paths.js';

export interface RunSpecInput {
  run: {
    id: number;
    taskId: number;
    jobId: number;
    parentId: number | null;
    /** `task.image`, exactly as the server has it. */
    image: string;
    databases: readonly TaskDatabase[];
  };
  node: { id: number; organizationId: number; collaborationId: number; name: string };
  /** The container token from `POST token/container`. */
  token: string;
  /** The proxy as algorithms reach it, by address (`ProxyAddress`). */
  proxyUrl: string;
  config: Pick<Config, 'kubernetes' | 'policies' | 'databases' | 'algorithm_env' | 'proxy'>;
}

export interface RunObjects {
  job: V1Job;
  secret: V1Secret;
}

const VolumeName = { Tasks: 'tasks', Token: 'token', Scratch: 'scratch' } as const;

/** The first `image_overrides` entry whose `image` matches like a vantage6 allow-list entry. */
export function imageOverrideFor(overrides: readonly ImageOverride[], image: string): ImageOverride | undefined {
  return overrides.find((override) => matchesAllowedImage(override.image, image));
}

/** The run's resources: the configured defaults with the override's fields on top. */
export function runResources(base: ResourceRequirements, override: ImageOverride | undefined): V1ResourceRequirements {
  return {
    requests: { ...base.requests, ...override?.resources?.requests },
    limits: { ...base.limits, ...override?.resources?.limits },
  };
}

/**
 * Pinning for a ReadWriteOnce task volume: the pod must run on the agent's node. A required node
 * affinity on the field `metadata.name` (not `nodeName`, not the `kubernetes.io/hostname` label):
 * unlike `nodeName` it keeps the scheduler in the loop, so the pod waits for CPU and memory instead
 * of being rejected by the kubelet, and taints are honoured; unlike the hostname label it matches
 * the node object's name exactly, which is what the downward API's `spec.nodeName` gives the
 * agent (the two differ on some clouds).
 */
function pinnedTo(nodeName: string): V1Affinity {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
      },
    },
  };
}

/** One read-only volume per distinct database claim, and the mounts of the databases on them. */
function databaseVolumes(databases: Config['databases']): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const claims = [...new Set(databases.flatMap((db) => (db.volume === undefined ? [] : [db.volume.claim_name])))];
  const volumeName = (claim: string) => `database-${claims.indexOf(claim)}`;
  return {
    volumes: claims.map((claim) => ({ name: volumeName(claim), persistentVolumeClaim: { claimName: claim, readOnly: true } })),
    mounts: databases.flatMap((db) =>
      db.volume === undefined
        ? []
        : [
            {
              name: volumeName(db.volume.claim_name),
              mountPath: databaseMountPath(db.label),
              readOnly: true,
              ...(db.volume.sub_path === undefined ? {} : { subPath: db.volume.sub_path }),
            },
          ],
    ),
  };
}

/**
 * The run's Job and Secret, both named `runObjectName(node.id, run.id)` in the task namespace.
 * Throws `AlgorithmEnvError` when the run cannot be given its environment (the run is `failed`).
 */
export function buildRunObjects(input: RunSpecInput): RunObjects {
  const { run, node, config } = input;
  const k8s = config.kubernetes;
  const name = runObjectName(node.id, run.id);
  const override = imageOverrideFor(k8s.image_overrides, run.image);
  const annotations: Record<string, string> = {
    [AnnotationKey.Image]: run.image,
    [AnnotationKey.TaskId]: String(run.taskId),
    ...(run.parentId === null ? {} : { [AnnotationKey.ParentTaskId]: String(run.parentId) }),
    [AnnotationKey.CollaborationId]: String(node.collaborationId),
    [AnnotationKey.NodeName]: node.name,
  };
  const metadata = (): V1ObjectMeta => ({ name, namespace: k8s.namespace, labels: runLabels(node.id, run) });
  const databases = databaseVolumes(config.databases);
  const { env, secretData } = algorithmEnv({ runId: run.id, databases: run.databases, config, proxyUrl: input.proxyUrl }, name);

  const secret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(),
    type: 'Opaque',
    immutable: true,
    data: { [TOKEN_KEY]: Buffer.from(input.token, 'utf8').toString('base64'), ...secretData },
  };

  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { ...metadata(), annotations },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: override?.active_deadline_seconds ?? k8s.run.active_deadline_seconds,
      ttlSecondsAfterFinished: k8s.run.ttl_seconds_after_finished,
      template: {
        metadata: { labels: algorithmPodLabels(node.id, run), annotations },
        spec: {
          restartPolicy: 'Never',
          // A killed or overdue run's pod is stopped with SIGTERM to its main process, which as the
          // container's PID 1 ignores it unless the algorithm handles it (vantage6 algorithms do
          // not): without this it would compute on, holding its token, for Kubernetes' default 30 s.
          terminationGracePeriodSeconds: k8s.run.termination_grace_period_seconds,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(k8s.task_volume.access_mode === 'ReadWriteOnce' && k8s.node_name !== undefined
            ? { affinity: pinnedTo(k8s.node_name) }
            : {}),
          ...(k8s.image_pull_secrets.length === 0 ? {} : { imagePullSecrets: k8s.image_pull_secrets.map((secretName) => ({ name: secretName })) }),
          // fsGroup makes the task volume's files writable for the algorithm's user.
          securityContext: { ...restrictedPodSecurityContext(k8s.run), fsGroup: k8s.run.fs_group, fsGroupChangePolicy: 'OnRootMismatch' },
          containers: [
            {
              name: ALGORITHM_CONTAINER,
              image: run.image,
              imagePullPolicy: config.policies.require_algorithm_pull ? 'Always' : 'IfNotPresent',
              env,
              resources: runResources(k8s.run.resources, override),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [
                { name: VolumeName.Tasks, mountPath: runDataPath(run.id), subPath: runFolderName(run.id) },
                { name: VolumeName.Tasks, mountPath: TEMPORARY_FOLDER, subPath: jobTmpFolderName(run.jobId) },
                { name: VolumeName.Token, mountPath: TOKEN_MOUNT, readOnly: true },
                { name: VolumeName.Scratch, mountPath: SCRATCH_MOUNT },
                ...databases.mounts,
              ],
            },
          ],
          volumes: [
            { name: VolumeName.Tasks, persistentVolumeClaim: { claimName: k8s.task_volume.claim_name } },
            { name: VolumeName.Token, secret: { secretName: name, defaultMode: 0o440, items: [{ key: TOKEN_KEY, path: TOKEN_KEY }] } },
            { name: VolumeName.Scratch, emptyDir: { sizeLimit: k8s.run.tmp_size_limit } },
            ...databases.volumes,
          ],
        },
      },
    },
  };
  return { job, secret };
}

/**
 * A copy of `secret` owned by the created `job` (UID-checked ownerReference, so the garbage
 * collector deletes the Secret with the Job). Throws `OwnerUidMissingError` if `job` has no uid.
 */
export function secretOwnedBy(secret: V1Secret, job: V1Job): V1Secret {
  const uid = job.metadata?.uid;
  if (uid === undefined || uid === '') throw new OwnerUidMissingError(job.metadata?.name);
  return {
    ...secret,
    metadata: {
      ...secret.metadata,
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, uid }],
    },
  };
}

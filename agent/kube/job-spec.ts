// The Kubernetes objects of one run: a Job running the algorithm image under the Pod Security
// Standards "restricted" profile, and a Secret holding its container token and the configured
// environment values (credentials stay out of the Job, which more may read). Pure: run, node and
// config in, objects out; the agent creates them (Job first, then the Secret owned by it).
import type { V1Affinity, V1Job, V1ObjectMeta, V1ResourceRequirements, V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { gateContainer, type IsolationGate } from '../isolation/gate.js';
import type { Config, ImageOverride, ResourceRequirements } from '../config.js';
import type { Action } from '../protocol/actions.js';
import { matchesAllowedImage } from '../protocol/policy.js';
import type { ServerTaskDatabase } from '../server/types.js';
import { algorithmEnv, type AlgorithmEnv } from './algorithm-env.js';
import { algorithmEnv5 } from './algorithm-env-5.js';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from './hardening.js';
import { OwnerUidMissingError } from './errors.js';
import { ALGORITHM_CONTAINER, AnnotationKey, algorithmPodLabels, jobTmpFolderName, runFolderName, runLabels, runObjectName, sessionFolderName } from './names.js';
import { SCRATCH_MOUNT, TEMPORARY_FOLDER, TOKEN_KEY, TOKEN_MOUNT, TaskPaths5, databaseMountPath, runDataPath } from './paths.js';

export interface RunSpecInput {
  run: {
    id: number;
    taskId: number;
    jobId: number;
    parentId: number | null;
    /** `task.image`, exactly as the server has it. */
    image: string;
    databases: readonly ServerTaskDatabase[];
    /** A vantage6 5 run: its action, `task.method` and session. Absent for a 4.x run. */
    v5?: { action: Action; method: string; sessionId: number; dataframe?: string };
  };
  node: { id: number; organizationId: number; collaborationId: number; name: string };
  /** The container token from `POST token/container`; a 5 run gets one for central compute only. */
  token: string | undefined;
  /** The proxy as algorithms reach it, by address (`ProxyAddress`). */
  proxyUrl: string;
  /** The init container that holds the algorithm back until the pod is isolated (`isolationGateFor`). */
  isolationGate: IsolationGate | undefined;
  config: Pick<Config, 'kubernetes' | 'policies' | 'databases' | 'algorithm_env' | 'proxy'>;
}

export interface RunObjects {
  job: V1Job;
  secret: V1Secret;
}

const VolumeName = { Tasks: 'tasks', Token: 'token', Scratch: 'scratch' } as const;

/** What differs between the contracts: the container's env, the Secret's data, the mounts of the task volume and token. */
interface Contract extends AlgorithmEnv {
  mounts: V1VolumeMount[];
  volumes: V1Volume[];
}

/**
 * vantage6 4.x: the run folder (`input`, `output`) and the job's temporary folder from the task
 * volume, the token as a file from the run's Secret.
 */
function contract4(input: RunSpecInput, name: string): Contract {
  const { run } = input;
  const { env, secretData } = algorithmEnv({ runId: run.id, databases: run.databases, config: input.config, proxyUrl: input.proxyUrl }, name);
  return {
    env,
    secretData: { ...(input.token === undefined ? {} : { [TOKEN_KEY]: Buffer.from(input.token, 'utf8').toString('base64') }), ...secretData },
    mounts: [
      { name: VolumeName.Tasks, mountPath: runDataPath(run.id), subPath: runFolderName(run.id) },
      { name: VolumeName.Tasks, mountPath: TEMPORARY_FOLDER, subPath: jobTmpFolderName(run.jobId) },
      { name: VolumeName.Token, mountPath: TOKEN_MOUNT, readOnly: true },
    ],
    volumes: [{ name: VolumeName.Token, secret: { secretName: name, defaultMode: 0o440, items: [{ key: TOKEN_KEY, path: TOKEN_KEY }] } }],
  };
}

/**
 * vantage6 5: the input and output files at upstream's paths and the session's folder, read-only
 * (the node, not the algorithm, stores a dataframe there once it has checked it); the token, for
 * central compute only, as `CONTAINER_TOKEN` from the run's Secret.
 */
function contract5(input: RunSpecInput, name: string, v5: NonNullable<RunSpecInput['run']['v5']>): Contract {
  const { run, node } = input;
  const { env, secretData } = algorithmEnv5(
    {
      action: v5.action,
      method: v5.method,
      ids: { taskId: run.taskId, nodeId: node.id, organizationId: node.organizationId, collaborationId: node.collaborationId },
      databases: run.databases,
      config: input.config,
      proxyUrl: input.proxyUrl,
      ...(input.token === undefined ? {} : { token: input.token }),
    },
    name,
  );
  return {
    env,
    secretData,
    mounts: [
      { name: VolumeName.Tasks, mountPath: TaskPaths5.input, subPath: `${runFolderName(run.id)}/input`, readOnly: true },
      { name: VolumeName.Tasks, mountPath: TaskPaths5.output, subPath: `${runFolderName(run.id)}/output` },
      { name: VolumeName.Tasks, mountPath: TaskPaths5.session, subPath: sessionFolderName(v5.sessionId), readOnly: true },
    ],
    volumes: [],
  };
}

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
 * The databases a run's pod mounts: all of them for a 4.x run (its algorithm picks by label); for
 * a 5 run only an extraction's source — every other action reads the session's dataframes.
 */
function mountedDatabases({ run, config }: RunSpecInput): Config['databases'] {
  if (run.v5 === undefined) return config.databases;
  if (run.v5.action !== 'data_extraction') return [];
  return config.databases.filter((db) => run.databases.some((requested) => requested.type === 'source' && requested.label === db.label));
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
    ...(run.v5 === undefined ? {} : { [AnnotationKey.SessionId]: String(run.v5.sessionId) }),
    ...(run.v5?.dataframe === undefined ? {} : { [AnnotationKey.Dataframe]: run.v5.dataframe }),
  };
  const metadata = (): V1ObjectMeta => ({ name, namespace: k8s.namespace, labels: runLabels(node.id, run) });
  const databases = databaseVolumes(mountedDatabases(input));
  const contract = run.v5 === undefined ? contract4(input, name) : contract5(input, name, run.v5);
  const gate = input.isolationGate;
  const pullSecrets = [...new Set([...k8s.image_pull_secrets, ...(gate?.imagePullSecrets ?? [])])];

  const secret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(),
    type: 'Opaque',
    immutable: true,
    data: contract.secretData,
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
        metadata: { labels: algorithmPodLabels(node.id, run, run.v5?.action), annotations },
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
          ...(pullSecrets.length === 0 ? {} : { imagePullSecrets: pullSecrets.map((secretName) => ({ name: secretName })) }),
          // fsGroup makes the task volume's files writable for the algorithm's user.
          securityContext: { ...restrictedPodSecurityContext(k8s.run), fsGroup: k8s.run.fs_group, fsGroupChangePolicy: 'OnRootMismatch' },
          ...(gate === undefined ? {} : { initContainers: [gateContainer(gate)] }),
          containers: [
            {
              name: ALGORITHM_CONTAINER,
              image: run.image,
              imagePullPolicy: config.policies.require_algorithm_pull ? 'Always' : 'IfNotPresent',
              env: contract.env,
              resources: runResources(k8s.run.resources, override),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [...contract.mounts, { name: VolumeName.Scratch, mountPath: SCRATCH_MOUNT }, ...databases.mounts],
            },
          ],
          volumes: [
            { name: VolumeName.Tasks, persistentVolumeClaim: { claimName: k8s.task_volume.claim_name } },
            ...contract.volumes,
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

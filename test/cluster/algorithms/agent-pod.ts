// An algorithm image run in a private containerd the way the agent's Job runs it: the Job comes
// from the agent's own `buildRunObjects` (so its env, mounts and security context cannot drift
// from the product's), the run's files from the agent's own `RunFiles` on a folder standing for
// the task volume, and the input is what `decodeRunInput` makes of the run the server returns.
// What the kubelet would do with the Job (volumes, user, limits) is translated to `ctr run`.
import type { V1Container, V1Job, V1PodSpec, V1Secret, V1Volume } from '@kubernetes/client-node';
import { chmod, chown, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig, type Config } from '../../../agent/config.js';
import { buildRunObjects } from '../../../agent/kube/job-spec.js';
import { agentRunFolder } from '../../../agent/kube/paths.js';
import { DummyCryptor } from '../../../agent/protocol/encryption.js';
import { RunFiles } from '../../../agent/runs/run-files.js';
import { decodeRunInput } from '../../../agent/runs/run-input.js';
import type { ServerRun } from '../../../agent/server/types.js';
import type { PrivateContainerd, RunImageOptions } from '../images/containerd.js';
import { CommandError, run as runTool } from '../images/run.js';

/** A CSV (or other file) database the node is configured with, on a claim of its own. */
export interface FileDatabase {
  label: string;
  type: Config['databases'][number]['type'];
  /** The file on the host; the pod sees a copy read-only on the claim's mount, by the same name. */
  hostFile: string;
}

export interface AgentPodOptions {
  containerd: PrivateContainerd;
  /** The image as imported into `containerd`. */
  image: string;
  /** Its OCI archive (for the image's USER). */
  archive: string;
  /** A folder of the test's own: the task volume, the token and scratch folders go below it. */
  root: string;
  /** The method and kwargs, as the researcher's client serializes them (vantage6 4.x JSON). */
  input: { method: string; kwargs?: Record<string, unknown>; args?: unknown[] };
  databases?: readonly FileDatabase[];
  /** The labels the task requests (default: every configured database, in order). */
  requested?: readonly string[];
  /** The container token; any JWT whose `sub` is the container identity. */
  token?: string;
  /** `proxy.url` (HOST). Default `http://127.0.0.1`: nothing answers inside the container. */
  proxyUrl?: string;
  /** `proxy.port` (PORT). Default the agent's. */
  proxyPort?: number;
  /**
   * The host's network instead of the pod's own (which here has nothing but loopback), to reach
   * a proxy of the test's on the host's 127.0.0.1. The agent's Job has its pod network.
   */
  hostNetwork?: boolean;
  /** `kubernetes.run.resources.limits.memory` (a quantity such as `256Mi`). */
  memoryLimit?: string;
  /** `results.max_output_bytes`. */
  maxOutputBytes?: number;
  runId?: number;
}

export interface AgentPodResult {
  exitCode: number;
  /** The container's stdout and stderr. */
  stdout: string;
  stderr: string;
  /** The output as the agent reads it (`RunFiles.readOutput` with `results.max_output_bytes`). */
  readOutput(): Promise<Buffer>;
  /** The output file's path on the host, to look at it without the agent's limit. */
  outputFile: string;
  job: V1Job;
}

/** The node the runs are on. */
export const NODE = { id: 7, organizationId: 3, collaborationId: 2, name: 'algorithm-images-test' };
const DATA_CLAIM_PREFIX = 'data-';
const TASKS_CLAIM = 'tasks';

/** A JWT as the server signs container tokens (spec A6): the container identity in an object `sub`, no `exp`. */
export function containerToken(claims: { taskId: number; image: string; databases: readonly { label: string }[] }): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const sub = {
    client_type: 'container',
    node_id: NODE.id,
    organization_id: NODE.organizationId,
    collaboration_id: NODE.collaborationId,
    study_id: null,
    store_id: null,
    task_id: claims.taskId,
    image: claims.image,
    databases: claims.databases,
  };
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, client_type: 'container' })}.${Buffer.from('not-verified').toString('base64url')}`;
}

function agentConfig(options: AgentPodOptions): Config {
  return parseConfig(
    stringify({
      api_key: '2f1b6a4e-9d0c-4c1e-8f7a-6b5d4c3b2a10',
      server_url: 'http://127.0.0.1',
      kubernetes: {
        task_volume: { claim_name: TASKS_CLAIM, access_mode: 'ReadWriteMany' },
        ...(options.memoryLimit === undefined ? {} : { run: { resources: { limits: { memory: options.memoryLimit } } } }),
      },
      proxy: { url: options.proxyUrl ?? 'http://127.0.0.1', ...(options.proxyPort === undefined ? {} : { port: options.proxyPort }) },
      isolation: { probe: false },
      databases: (options.databases ?? []).map((db) => ({
        label: db.label,
        type: db.type,
        uri: basename(db.hostFile),
        volume: { claim_name: `${DATA_CLAIM_PREFIX}${db.label}` },
      })),
      ...(options.maxOutputBytes === undefined ? {} : { results: { max_output_bytes: options.maxOutputBytes } }),
    }),
    {},
  ).config;
}

/** The run as `GET run?include=task` returns it in an unencrypted collaboration: input is base64(JSON). */
function serverRun(options: AgentPodOptions, runId: number): ServerRun {
  const requested = options.requested ?? (options.databases ?? []).map((db) => db.label);
  return {
    id: runId,
    input: new DummyCryptor().encryptBytesToStr(Buffer.from(JSON.stringify(options.input), 'utf8')),
    status: 'pending',
    started_at: null,
    finished_at: null,
    blob_storage_used: false,
    organization: { id: NODE.organizationId },
    task: {
      id: runId + 1000,
      image: options.image,
      job_id: runId + 2000,
      parent: null,
      init_org: { id: NODE.organizationId },
      init_user: { id: 1 },
      collaboration: { id: NODE.collaborationId },
      algorithm_store: null,
      databases: requested.map((label) => ({ label, parameters: '{}' })),
    },
  };
}

/** The `User` of the image config in an OCI archive (one manifest, as the image tier writes them). */
export async function archiveUser(archive: string): Promise<string> {
  const blob = async (digest: string) => JSON.parse(await runTool('tar', ['-xOf', archive, `blobs/${digest.replace(':', '/')}`])) as Record<string, unknown>;
  const index = JSON.parse(await runTool('tar', ['-xOf', archive, 'index.json'])) as { manifests: { digest: string }[] };
  const manifest = (await blob(index.manifests[0]!.digest)) as { config: { digest: string } };
  const config = (await blob(manifest.config.digest)) as { config?: { User?: string } };
  return config.config?.User ?? '';
}

/** Bytes of a Kubernetes memory quantity (binary or decimal suffix, or none). */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new Error(`memory quantity ${quantity}: not understood here`);
  const factor = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[match[2] ?? ''] ?? 1;
  return Math.floor(Number(match[1]) * factor);
}

/** The container's `env` with Secret references resolved as the kubelet does. */
function envPairs(container: V1Container, secret: V1Secret): string[] {
  return (container.env ?? []).map(({ name, value, valueFrom }) => {
    if (value !== undefined) return `${name}=${value}`;
    const key = valueFrom?.secretKeyRef?.key;
    const data = key === undefined ? undefined : secret.data?.[key];
    if (data === undefined) throw new Error(`env ${name}: neither a value nor a key of the run's Secret`);
    return `${name}=${Buffer.from(data, 'base64').toString('utf8')}`;
  });
}

/** Where each of the pod's volumes is on the host, made as the kubelet makes it. */
async function volumeSources(pod: V1PodSpec, secret: V1Secret, hosts: { claims: Map<string, string>; root: string }): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  const fsGroup = pod.securityContext?.fsGroup ?? 0;
  for (const volume of pod.volumes ?? []) sources.set(volume.name, await volumeSource(volume, secret, fsGroup, hosts));
  return sources;
}

async function volumeSource(volume: V1Volume, secret: V1Secret, fsGroup: number, hosts: { claims: Map<string, string>; root: string }): Promise<string> {
  if (volume.persistentVolumeClaim !== undefined) {
    const dir = hosts.claims.get(volume.persistentVolumeClaim.claimName);
    if (dir === undefined) throw new Error(`volume ${volume.name}: no host folder for claim ${volume.persistentVolumeClaim.claimName}`);
    return dir;
  }
  const dir = join(hosts.root, `volume-${volume.name}`);
  await mkdir(dir, { recursive: true });
  if (volume.emptyDir !== undefined) {
    await chmod(dir, 0o777);
    return dir;
  }
  if (volume.secret !== undefined) {
    // The kubelet writes the items with defaultMode, owned by root and the pod's fsGroup.
    for (const item of volume.secret.items ?? []) {
      const file = join(dir, item.path);
      await writeFile(file, Buffer.from(secret.data?.[item.key] ?? '', 'base64'));
      await chown(file, 0, fsGroup);
      await chmod(file, volume.secret.defaultMode ?? 0o644);
    }
    return dir;
  }
  throw new Error(`volume ${volume.name}: a kind this harness does not make`);
}

/** `ctr run` options for the Job's one container, as the kubelet would start it. */
async function runOptions(job: V1Job, secret: V1Secret, imageUser: string, hosts: { claims: Map<string, string>; root: string }): Promise<RunImageOptions> {
  const pod = job.spec!.template.spec!;
  const [container] = pod.containers;
  if (container === undefined || pod.containers.length !== 1) throw new Error('expected a Job with one container');
  const context = { ...pod.securityContext, ...container.securityContext };
  const user = context.runAsUser;
  const group = context.runAsGroup;
  if (user === undefined || user === 0 || group === undefined) throw new Error('the Job does not run as a fixed non-root user and group');
  // Debian's ctr (containerd 1.6) can neither set the user nor add supplementary groups (the
  // pod's fsGroup is one): the image's USER must be the Job's user and group, and fsGroup the group.
  if (`${user}:${group}` !== imageUser) {
    throw new Error(`the Job runs as ${user}:${group} but the image's USER is ${imageUser || 'unset'}; this ctr cannot override it`);
  }
  if (pod.securityContext?.fsGroup !== undefined && pod.securityContext.fsGroup !== group) {
    throw new Error(`fsGroup ${pod.securityContext.fsGroup} differs from runAsGroup ${group}: ctr run cannot add it as a supplementary group`);
  }
  const sources = await volumeSources(pod, secret, hosts);
  const memory = container.resources?.limits?.memory;
  return {
    env: envPairs(container, secret),
    mounts: (container.volumeMounts ?? []).map((mount) => ({
      source: join(sources.get(mount.name)!, mount.subPath ?? ''),
      destination: mount.mountPath,
      readOnly: mount.readOnly === true,
    })),
    readOnlyRootfs: context.readOnlyRootFilesystem === true,
    capDrop: context.capabilities?.drop ?? [],
    seccomp: context.seccompProfile?.type === 'RuntimeDefault',
    ...(memory === undefined ? {} : { memoryLimit: quantityBytes(memory) }),
  };
}

let containers = 0;

/** Runs the image on the input as the agent would and waits for it to exit. */
export async function runAsAgent(options: AgentPodOptions): Promise<AgentPodResult> {
  const runId = options.runId ?? 1;
  const config = agentConfig(options);
  const run = serverRun(options, runId);
  const token = options.token ?? containerToken({ taskId: run.task.id, image: options.image, databases: run.task.databases });
  const { job, secret } = buildRunObjects({
    run: { id: run.id, taskId: run.task.id, jobId: run.task.job_id, parentId: null, image: run.task.image, databases: run.task.databases },
    node: NODE,
    token,
    proxyUrl: config.proxy.url,
    // The algorithm tier runs images, not policies: no NetworkPolicies to wait for.
    isolationGate: undefined,
    config,
  });

  const taskVolume = join(options.root, 'task-volume');
  await mkdir(taskVolume, { recursive: true });
  const files = new RunFiles(taskVolume, config.kubernetes.run.fs_group);
  await files.prepare(run.id, run.task.job_id, decodeRunInput(run, new DummyCryptor(), 4));
  const claims = new Map([[TASKS_CLAIM, taskVolume]]);
  for (const db of options.databases ?? []) {
    const dir = join(options.root, `claim-${db.label}`);
    await mkdir(dir, { recursive: true });
    await copyFile(db.hostFile, join(dir, basename(db.hostFile)));
    claims.set(`${DATA_CLAIM_PREFIX}${db.label}`, dir);
  }

  const ctrOptions = { ...(await runOptions(job, secret, await archiveUser(options.archive), { claims, root: options.root })), hostNetwork: options.hostNetwork === true };
  const id = `algorithm-${process.pid}-${++containers}`;
  const outcome = await options.containerd.runImage(options.image, id, ctrOptions).then(
    (stdout) => ({ exitCode: 0, stdout, stderr: '' }),
    (error: unknown) => {
      if (!(error instanceof CommandError) || error.exitCode === null) throw error;
      return { exitCode: error.exitCode, stdout: error.stdout, stderr: error.stderr === error.stdout ? '' : error.stderr };
    },
  );
  return {
    ...outcome,
    job,
    outputFile: join(agentRunFolder(taskVolume, run.id), 'output'),
    readOutput: () => files.readOutput(run.id, config.results.max_output_bytes),
  };
}

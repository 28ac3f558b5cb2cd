// A pod's volumes on the host, as the kubelet's volume manager sets them up: each volume becomes a
// host directory (secret and configMap files written into a per-pod dir, emptyDir fresh,
// hostPath and persistentVolumeClaim given), and each container's volumeMounts become bind
// mounts of those directories (or of a `subPath` in them, created if missing).
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IKeyToPath } from 'kubernetes-models/v1/KeyToPath';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { expandVars } from './container-env.js';

/** A bind mount: `source` on the host at `target` inside the container's mount namespace. */
export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
  /** Whether the source is a file (a subPath naming a file), so the mount point must be one too. */
  file: boolean;
}

/** What volumes are made of, from the store and the simulated storage. */
export interface VolumeLookup {
  /** Decoded Secret data; undefined when the Secret is absent. */
  secret(name: string): Record<string, Buffer> | undefined;
  /** ConfigMap `data` and decoded `binaryData`; undefined when absent. */
  configMap(name: string): Record<string, Buffer> | undefined;
  /** The host dir bound to a claim; undefined when the claim is unbound. */
  claimDir(claimName: string): string | undefined;
}

/** A volume that cannot be set up (yet): the pod waits in ContainerCreating with a FailedMount event. */
export class VolumeSetupError extends Error {
  readonly reason = 'FailedMount';
}

/**
 * Sets up every volume of the pod under `podDir`; returns volume name → host directory. With a
 * pod `fsGroup`, the volumes the kubelet manages (emptyDir, Secret, ConfigMap) belong to that
 * group, as on a real node; claims and host paths keep their owners.
 */
export async function setUpVolumes(pod: IPod, podDir: string, lookup: VolumeLookup): Promise<Map<string, string>> {
  const dirs = new Map<string, string>();
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  for (const volume of pod.spec?.volumes ?? []) {
    try {
      dirs.set(volume.name, await setUpVolume(volume, join(podDir, 'volumes', volume.name), lookup, fsGroup));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new VolumeSetupError(`MountVolume.SetUp failed for volume "${volume.name}" : ${reason}`);
    }
  }
  return dirs;
}

async function setUpVolume(volume: IVolume, dir: string, lookup: VolumeLookup, fsGroup: number | undefined): Promise<string> {
  if (volume.emptyDir !== undefined) {
    await mkdir(dir, { recursive: true, mode: 0o777 });
    await chmod(dir, 0o777);
    if (fsGroup !== undefined) await chown(dir, 0, fsGroup);
    return dir;
  }
  if (volume.hostPath !== undefined) return setUpHostPath(volume.hostPath.path, volume.hostPath.type ?? '');
  if (volume.persistentVolumeClaim !== undefined) {
    const claimDir = lookup.claimDir(volume.persistentVolumeClaim.claimName);
    if (claimDir === undefined) throw new Error(`persistentvolumeclaim "${volume.persistentVolumeClaim.claimName}" is not bound`);
    return claimDir;
  }
  const source = volume.secret ?? volume.configMap;
  if (source !== undefined) {
    const isSecret = volume.secret !== undefined;
    const name = volume.secret?.secretName ?? volume.configMap?.name ?? '';
    const data = isSecret ? lookup.secret(name) : lookup.configMap(name);
    if (data === undefined && source.optional !== true) throw new Error(`${isSecret ? 'secret' : 'configmap'} "${name}" not found`);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await writeProjection(dir, data ?? {}, source.items, source.defaultMode ?? 0o644, isSecret ? 'Secret' : 'ConfigMap', name, fsGroup);
    return dir;
  }
  throw new Error('volume type not supported by the simulated kubelet (supported: emptyDir, hostPath, persistentVolumeClaim, secret, configMap)');
}

/**
 * A hostPath as the kubelet checks its `type` and the container runtime binds it: unset, a
 * missing path is made a folder (containerd's CRI does); `DirectoryOrCreate` and `FileOrCreate`
 * make what is missing; `Directory`, `File`, `Socket`, `CharDevice` and `BlockDevice` must find it.
 */
async function setUpHostPath(path: string, type: string): Promise<string> {
  const found = await stat(path).catch(() => undefined);
  const fail = (what: string): never => {
    throw new Error(`hostPath type check failed: ${path} is not ${what}`);
  };
  switch (type) {
    case '':
    case 'DirectoryOrCreate':
      if (found === undefined) await mkdir(path, { recursive: true, mode: 0o755 });
      else if (type === 'DirectoryOrCreate' && !found.isDirectory()) fail('a directory');
      return path;
    case 'FileOrCreate':
      if (found === undefined) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, '', { mode: 0o644 });
      } else if (!found.isFile()) fail('a file');
      return path;
    case 'Directory':
      if (!found?.isDirectory()) fail('a directory');
      return path;
    case 'File':
      if (!found?.isFile()) fail('a file');
      return path;
    case 'Socket':
      if (!found?.isSocket()) fail('a socket file');
      return path;
    case 'CharDevice':
      if (!found?.isCharacterDevice()) fail('a character device');
      return path;
    case 'BlockDevice':
      if (!found?.isBlockDevice()) fail('a block device');
      return path;
    default:
      return fail(`of the unknown hostPath type ${type}`);
  }
}

async function writeProjection(
  dir: string,
  data: Record<string, Buffer>,
  items: IKeyToPath[] | undefined,
  defaultMode: number,
  kind: string,
  name: string,
  fsGroup: number | undefined,
): Promise<void> {
  const files: IKeyToPath[] = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of files) {
    const content = data[item.key];
    if (content === undefined) throw new Error(`${kind} ${name} references non-existent ${kind === 'Secret' ? 'secret' : 'config'} key: ${item.key}`);
    const path = join(dir, safeRelative(item.path));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    await chmod(path, item.mode ?? defaultMode);
    if (fsGroup !== undefined) await chown(path, 0, fsGroup);
  }
}

function safeRelative(path: string): string {
  const clean = normalize(path);
  if (isAbsolute(clean) || clean === '..' || clean.startsWith('../')) throw new Error(`invalid path "${path}": must be relative and may not contain '..'`);
  return clean;
}

/** The container's bind mounts, parents before children; a missing subPath is created as a directory. */
export async function containerMounts(container: IContainer, volumeDirs: ReadonlyMap<string, string>, env: Readonly<Record<string, string>>, readOnlyVolumes: ReadonlySet<string>): Promise<BindMount[]> {
  const mounts: BindMount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const dir = volumeDirs.get(mount.name);
    if (dir === undefined) throw new VolumeSetupError(`volume "${mount.name}" not found in the pod's volumes`);
    const subPath = mount.subPathExpr !== undefined ? expandVars(mount.subPathExpr, env) : mount.subPath;
    let source = dir;
    if (subPath !== undefined && subPath !== '') {
      source = join(dir, safeRelative(subPath));
      if ((await stat(source).catch(() => undefined)) === undefined) await mkdir(source, { recursive: true, mode: 0o777 });
    }
    // A file (a subPath naming one, or a hostPath of a file) is bound onto a file.
    const file = (await stat(source).catch(() => undefined))?.isFile() ?? false;
    mounts.push({ source, target: normalize(mount.mountPath), readOnly: mount.readOnly === true || readOnlyVolumes.has(mount.name), file });
  }
  return mounts.sort((a, b) => a.target.split('/').length - b.target.split('/').length);
}

/** Volumes Kubernetes always mounts read-only (secret, configMap). */
export function readOnlyVolumeNames(pod: IPod): Set<string> {
  return new Set((pod.spec?.volumes ?? []).filter((v) => v.secret !== undefined || v.configMap !== undefined).map((v) => v.name));
}

// Debian's buildah (1.28 on bookworm), rootful, with its own storage under the state folder so it
// shares nothing with another containers-storage user on the machine. Builds run with the host's
// network (the build container reaches the package registries exactly as the host does).
import { join } from 'node:path';
import { ensureDebianPackages } from './apt.js';
import { STATE_ROOT } from './cache.js';
import { run, type RunOptions } from './run.js';
import type { BuiltImage } from './static-image.js';

export const BUILDAH_ROOT = join(STATE_ROOT, 'buildah');

/**
 * How RUN steps are isolated: `oci` (runc, the default) or `chroot` (no new namespaces beyond a
 * mount namespace; for hosts where runc cannot start containers). `V6_IMAGES_ISOLATION` overrides.
 */
export const ISOLATION = process.env.V6_IMAGES_ISOLATION ?? 'oci';
/** `overlay` on this kernel; `V6_IMAGES_STORAGE_DRIVER=vfs` where overlayfs is not available. */
export const STORAGE_DRIVER = process.env.V6_IMAGES_STORAGE_DRIVER ?? 'overlay';

export async function ensureBuildah(): Promise<void> {
  await ensureDebianPackages(['buildah', 'runc', 'skopeo']);
}

/** `buildah --root … --runroot … --storage-driver … args…`, resolving with stdout. */
export function buildah(args: readonly string[], options: RunOptions = {}): Promise<string> {
  const storage = ['--root', join(BUILDAH_ROOT, 'storage'), '--runroot', join(BUILDAH_ROOT, 'run'), '--storage-driver', STORAGE_DRIVER];
  return run('buildah', [...storage, ...args], options);
}

/** The `containers-storage:` transport reference of an image in this buildah's store. */
export function storageRef(name: string): string {
  return `containers-storage:[${STORAGE_DRIVER}@${join(BUILDAH_ROOT, 'storage')}+${join(BUILDAH_ROOT, 'run')}]${name}`;
}

/** Makes a built image available to FROM under its name: pulled from its archive unless the store has that digest. */
export async function loadIntoStore(image: BuiltImage): Promise<void> {
  const present = await buildah(['inspect', '--type', 'image', '--format', '{{.FromImageDigest}}', image.name]).then(
    (digest) => digest.trim(),
    () => '',
  );
  if (present === image.digest) return;
  // `always`: take the archive's image even if the store holds an older one under this name.
  const id = (await buildah(['pull', '--quiet', '--policy', 'always', `oci-archive:${image.archive}`])).trim();
  await buildah(['tag', id, image.name]);
}

// A base image made from Debian packages: debootstrap minbase (+ packages), a customizing step,
// one layer, written as an OCI archive and cached by the inputs the caller names.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedDir, inputKey } from './cache.js';
import { debianMirror, debootstrap, rootfsTar } from './debian-rootfs.js';
import { normalizeName, ociArchive, type ImageConfig } from './oci-archive.js';
import { run } from './run.js';
import type { BuiltImage } from './static-image.js';

/** The Debian release a base image is made from unless it names another. */
export const DEBIAN_SUITE = 'bookworm';

export interface DebianImageOptions {
  name: string;
  /** Cache kind, e.g. `base-node`. */
  kind: string;
  /** Debian packages beyond minbase. */
  include: readonly string[];
  /** Everything else the result depends on (versions, hashes of added files); part of the cache key. */
  inputs: readonly (string | Buffer | object)[];
  /** Adds to and changes the root filesystem (runs as root on the host; `chroot` for commands inside). */
  customize: (rootfs: string) => Promise<void>;
  config: ImageConfig;
  /** The Debian release (default DEBIAN_SUITE): trixie for what needs bookworm's successors' packages. */
  suite?: string;
}

/** Builds (or takes from the cache) the image. */
export async function debianImage(options: DebianImageOptions): Promise<BuiltImage> {
  const mirror = process.env.V6_IMAGES_DEBIAN_MIRROR ?? (await debianMirror());
  const name = normalizeName(options.name);
  const suite = options.suite ?? DEBIAN_SUITE;
  const key = inputKey(`${options.kind}/1`, name, suite, mirror, options.include, options.config, ...options.inputs);
  const { dir, hit } = await cachedDir(options.kind, key, async (scratch) => {
    const rootfs = join(scratch, 'rootfs');
    await debootstrap(rootfs, { suite, include: options.include, mirror });
    await options.customize(rootfs);
    await rootfsTar(rootfs, join(scratch, 'layer.tar'));
    await run('rm', ['-rf', rootfs]);
    const built = ociArchive({ name, layers: [await readFile(join(scratch, 'layer.tar'))], gzipLevel: 6, config: options.config });
    await run('rm', ['-f', join(scratch, 'layer.tar')]);
    await writeFile(join(scratch, 'image.oci.tar'), built.archive);
    await writeFile(join(scratch, 'digest'), built.digest);
  });
  const digest = (await readFile(join(dir, 'digest'), 'utf8')).trim();
  return { name, archive: join(dir, 'image.oci.tar'), digest, cached: hit };
}

/** Runs a command inside the root filesystem (chroot), resolving with its stdout. */
export function inRootfs(rootfs: string, command: readonly string[]): Promise<string> {
  return run('chroot', [rootfs, ...command], { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' } });
}

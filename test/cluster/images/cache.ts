// Where images and their inputs are kept: a cache outside the repository, keyed by what went
// into each artefact, and a state folder for buildah's storage and scratch work.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Built artefacts, one folder each: `<kind>-<key>/`. `V6_IMAGES_CACHE` overrides. */
export const CACHE_ROOT = process.env.V6_IMAGES_CACHE ?? join(homedir(), '.cache', 'v6-node', 'images');
/** buildah's storage, debootstrap scratch, private containerd instances. `V6_IMAGES_STATE` overrides. */
export const STATE_ROOT = process.env.V6_IMAGES_STATE ?? '/var/tmp/v6-images';

/** A short, stable key for a list of inputs (strings, buffers, nested JSON). */
export function inputKey(...parts: (string | Buffer | object)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes = Buffer.isBuffer(part) ? part : Buffer.from(typeof part === 'string' ? part : JSON.stringify(part));
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex').slice(0, 24);
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The cache folder `<kind>-<key>`, made by `produce` into a scratch folder first and renamed into
 * place when it succeeds, so an interrupted build leaves nothing that looks finished.
 */
export async function cachedDir(kind: string, key: string, produce: (dir: string) => Promise<void>): Promise<{ dir: string; hit: boolean }> {
  const dir = join(CACHE_ROOT, `${kind}-${key}`);
  if (await exists(dir)) return { dir, hit: true };
  await mkdir(CACHE_ROOT, { recursive: true });
  const scratch = await mkdtemp(join(CACHE_ROOT, `.${kind}-`));
  try {
    await produce(scratch);
    await rename(scratch, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another process finished the same key first: its result is as good as ours.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { dir, hit: false };
}

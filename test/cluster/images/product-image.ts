// The product image, v6-node:<package version>, built from the repository's own Dockerfile on the
// node:24-slim made here: the Dockerfile is the recipe, nothing beside it.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildDockerfileImage } from './dockerfile-image.js';
import { nodeBaseImage } from './node-base.js';
import type { BuiltImage } from './static-image.js';

export const REPOSITORY_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** `v6-node:<version of package.json>`. */
export async function productImageName(): Promise<string> {
  const { version } = JSON.parse(await readFile(join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as { version: string };
  return `v6-node:${version}`;
}

/** Builds (or takes from the cache) the product image from `<repository>/Dockerfile`. */
export async function productImage(options: { name?: string; verbose?: boolean } = {}): Promise<BuiltImage & { contextFiles: number }> {
  return buildDockerfileImage({
    context: REPOSITORY_ROOT,
    name: options.name ?? (await productImageName()),
    bases: [await nodeBaseImage()],
    ...(options.verbose === undefined ? {} : { verbose: options.verbose }),
  });
}

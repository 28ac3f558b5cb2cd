// The base images made here, by the name a Dockerfile's FROM gives them, and the folder build that
// makes whichever of them a Dockerfile needs: `FROM python:3.11-slim` or `python:3.13-slim` just works.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildDockerfileImage, type DockerfileImageOptions } from './dockerfile-image.js';
import { baseImages, parseDockerfile } from './dockerfile.js';
import { nodeBaseImage } from './node-base.js';
import { normalizeName } from './oci-archive.js';
import { pythonBaseImage } from './python-base.js';
import type { BuiltImage } from './static-image.js';

export const BASE_IMAGES: Record<string, () => Promise<BuiltImage>> = {
  [normalizeName('node:24-slim')]: nodeBaseImage,
  [normalizeName('python:3.11-slim')]: () => pythonBaseImage('3.11'),
  [normalizeName('python:3.13-slim')]: () => pythonBaseImage('3.13'),
};

/** Builds the image of a Dockerfile folder, making the base images its FROM lines name. */
export async function buildFolderImage(
  options: Omit<DockerfileImageOptions, 'bases'> & { bases?: readonly BuiltImage[] },
): Promise<BuiltImage & { contextFiles: number }> {
  const dockerfile = resolve(options.dockerfile ?? join(options.context, 'Dockerfile'));
  const froms = baseImages(parseDockerfile(await readFile(dockerfile, 'utf8')));
  const given = new Set((options.bases ?? []).map((b) => normalizeName(b.name)));
  const bases = [...(options.bases ?? [])];
  for (const from of froms.map(normalizeName)) {
    if (given.has(from)) continue;
    const make = BASE_IMAGES[from];
    if (make === undefined) throw new Error(`${dockerfile}: FROM ${from} is not made here; use one of ${Object.keys(BASE_IMAGES).join(', ')} or pass it in bases`);
    bases.push(await make());
  }
  return buildDockerfileImage({ ...options, dockerfile, bases });
}

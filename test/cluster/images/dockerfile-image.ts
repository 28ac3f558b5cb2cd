// An image built from a Dockerfile with buildah: the product image from the repository's own
// Dockerfile, test algorithm images from a folder. Bases come only from images made here (nothing
// is pulled); the result is cached by the Dockerfile, its bases' digests, the build arguments and
// the hash of the context files it copies, and written out as an OCI archive.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildah, ensureBuildah, ISOLATION, loadIntoStore } from './buildah.js';
import { buildVolumes } from './build-config.js';
import { cachedDir, inputKey } from './cache.js';
import { hashContext } from './context-hash.js';
import { baseImages, contextSources, parseDockerfile } from './dockerfile.js';
import { normalizeName } from './oci-archive.js';
import { run } from './run.js';
import type { BuiltImage } from './static-image.js';

export interface DockerfileImageOptions {
  /** The build context folder. */
  context: string;
  /** Default `<context>/Dockerfile`. */
  dockerfile?: string;
  /** The result's reference, e.g. `v6-node:0.1.0` or `127.0.0.1:5000/algorithms/sum:1`. */
  name: string;
  /** The images the Dockerfile's FROM lines name, made here (nodeBaseImage(), pythonBaseImage(), …). */
  bases: readonly BuiltImage[];
  buildArgs?: Record<string, string>;
  target?: string;
  /** buildah's output (step by step) to stderr; default on, so long builds show progress. */
  verbose?: boolean;
}

/** Builds (or takes from the cache) the image of a Dockerfile. */
export async function buildDockerfileImage(options: DockerfileImageOptions): Promise<BuiltImage & { contextFiles: number }> {
  const context = resolve(options.context);
  const dockerfile = resolve(options.dockerfile ?? join(context, 'Dockerfile'));
  const text = await readFile(dockerfile, 'utf8').catch((error: Error) => {
    throw new Error(`image ${options.name}: cannot read ${dockerfile}: ${error.message}`);
  });
  const instructions = parseDockerfile(text);
  const byName = new Map(options.bases.map((b) => [normalizeName(b.name), b]));
  const bases = baseImages(instructions).map((from) => {
    const base = byName.get(normalizeName(from));
    if (base === undefined) {
      throw new Error(`${dockerfile}: FROM ${from} is not an image made here; pass it in bases (made: ${[...byName.keys()].join(', ') || 'none'}) — nothing is pulled`);
    }
    return base;
  });
  const { hash: contextHash, files } = await hashContext(context, contextSources(instructions));
  const name = normalizeName(options.name);
  const key = inputKey('dockerfile-image/1', name, text, bases.map((b) => b.digest), options.buildArgs ?? {}, options.target ?? '', contextHash, ISOLATION);
  const { dir, hit } = await cachedDir('image', key, async (scratch) => {
    await ensureBuildah();
    for (const base of bases) await loadIntoStore(base);
    const args = Object.entries(options.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
    await buildah(
      [
        'bud',
        '--layers',
        '--pull=never',
        '--network', 'host',
        '--isolation', ISOLATION,
        '--format', 'oci',
        ...(await buildVolumes()),
        ...args,
        ...(options.target === undefined ? [] : ['--target', options.target]),
        '--iidfile', join(scratch, 'image-id'),
        '-f', dockerfile,
        '-t', name,
        context,
      ],
      { progress: options.verbose ?? true },
    ).catch((error: Error) => {
      throw new Error(`buildah bud of ${dockerfile} failed (isolation ${ISOLATION}; V6_IMAGES_ISOLATION=chroot if runc cannot start here): ${error.message}`, { cause: error });
    });
    const layout = join(scratch, 'layout');
    await mkdir(layout);
    await buildah(['push', '--quiet', name, `oci:${layout}:${name}`]);
    const digest = await ociLayoutToArchive(layout, name, join(scratch, 'image.oci.tar'));
    await rm(layout, { recursive: true, force: true });
    await writeFile(join(scratch, 'digest'), digest);
  });
  const digest = (await readFile(join(dir, 'digest'), 'utf8')).trim();
  return { name, archive: join(dir, 'image.oci.tar'), digest, cached: hit, contextFiles: files };
}

/** Names the layout's image the way containerd's import reads it and tars the layout; its manifest digest. */
async function ociLayoutToArchive(layout: string, name: string, archive: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const [manifest] = index.manifests;
  if (manifest === undefined || index.manifests.length !== 1) throw new Error(`${layout}: expected one manifest, found ${index.manifests.length}`);
  manifest.annotations = { ...manifest.annotations, 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1) };
  await writeFile(join(layout, 'index.json'), JSON.stringify(index));
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '--sort=name', '-C', layout, '-cf', archive, 'oci-layout', 'index.json', 'blobs']);
  return manifest.digest;
}

// The pause image for containerd's pod sandboxes (`sandbox_image` in its CRI config): pause.c
// compiled with `gcc -static`, as the only file of the image.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDebianPackages } from './apt.js';
import { cachedDir, inputKey } from './cache.js';
import { run } from './run.js';
import { staticBinaryImage, type BuiltImage } from './static-image.js';

/** The name kubelet 1.34+ and kubeadm expect; pass another to `pauseImage` to match a containerd config. */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
const SOURCE = join(import.meta.dirname, 'pause.c');

/** The static pause binary, compiled once per source and compiler version. */
export async function pauseBinary(): Promise<string> {
  await ensureDebianPackages(['gcc', 'libc6-dev']);
  const source = await readFile(SOURCE);
  const compiler = await run('gcc', ['--version']);
  const { dir } = await cachedDir('pause-bin', inputKey('pause/1', source, compiler), async (scratch) => {
    await run('gcc', ['-static', '-Os', '-s', '-Wall', '-Werror', '-o', join(scratch, 'pause'), SOURCE]);
  });
  return join(dir, 'pause');
}

/** The pause image as an OCI archive; runs as 65535 like upstream's. */
export async function pauseImage(name: string = PAUSE_IMAGE): Promise<BuiltImage> {
  return staticBinaryImage({ name, binary: await pauseBinary(), path: '/pause', user: '65535:65535' });
}

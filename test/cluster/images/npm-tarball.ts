// Packages fetched from the npm registry with `npm pack` (the ordinary client), checked against a
// pinned sha256 and cached: npm itself for the Node base image.
import { createHash } from 'node:crypto';
import { readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedDir } from './cache.js';
import { run } from './run.js';

/** The path of `<name>-<version>.tgz`, fetched once and verified. */
export async function npmTarball(name: string, version: string, sha256: string): Promise<string> {
  const file = `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
  const { dir } = await cachedDir('npm', `${file}-${sha256.slice(0, 12)}`, async (scratch) => {
    await run('npm', ['pack', `${name}@${version}`, '--pack-destination', scratch, '--silent'], { cwd: scratch });
    const [packed] = (await readdir(scratch)).filter((f) => f.endsWith('.tgz'));
    if (packed === undefined) throw new Error(`npm pack ${name}@${version} wrote no tarball`);
    const actual = createHash('sha256').update(await readFile(join(scratch, packed))).digest('hex');
    if (actual !== sha256) throw new Error(`${name}@${version}: sha256 ${actual}, expected ${sha256} (update the pin only after checking why)`);
    if (packed !== file) await rename(join(scratch, packed), join(scratch, file));
  });
  return join(dir, file);
}

// The hub's Python (vantage6-algorithm-tools 5.0.3, pandas, pyarrow: test/v6-hub/venv.ts) where
// an algorithm process of the simulated cluster can run it. Algorithm containers run as
// `kubernetes.run.run_as_user`, and the interpreter and the virtualenv live below the home folder
// of the user who made them (pyenv, ~/.cache), which others may not traverse. So both are copied
// as hard links (instant, no space) into a folder everyone can read, kept between runs and made
// again when the virtualenv changes: what an image's layers give a real container.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { withLock } from '../support/pinned-venv.js';
import { ensureHqVenv } from '../v6-hub/venv.js';

/** `$V6_NODE_SHARED_CACHE` or `/var/cache/v6-node`: a cache other users can read. */
export function sharedCacheDir(): string {
  return process.env.V6_NODE_SHARED_CACHE ?? '/var/cache/v6-node';
}

export interface ReachablePython {
  /** The interpreter, outside any private folder. */
  readonly python: string;
  /** What the process needs to find its library and the hub's packages. */
  readonly env: Readonly<Record<string, string>>;
}

function copyAsLinks(from: string, to: string): void {
  const copied = spawnSync('cp', ['-al', from, to], { encoding: 'utf8' });
  if (copied.status !== 0) {
    const plain = spawnSync('cp', ['-a', from, to], { encoding: 'utf8' });
    if (plain.status !== 0) throw new Error(`cannot copy ${from} to ${to}: ${copied.stderr || plain.stderr}`);
  }
}

export async function ensureReachablePython(): Promise<ReachablePython> {
  const venvPython = await ensureHqVenv();
  const venv = dirname(dirname(venvPython));
  const home = (await readFile(join(venv, 'pyvenv.cfg'), 'utf8')).match(/^home = (.+)$/m)?.[1]?.trim();
  if (home === undefined) throw new Error(`${venv}/pyvenv.cfg names no home interpreter`);
  const base = dirname(home);
  const version = (await readFile(join(venv, '.v6-node-ready'), 'utf8')).trim().slice(0, 16);
  const root = await mkdir(sharedCacheDir(), { recursive: true, mode: 0o755 }).then(() => sharedCacheDir());
  await chmod(root, 0o755);
  const dir = join(root, `sim-python-${version}`);
  const minor = (await readlink(venvPython).catch(() => 'python3')).match(/python(\d+\.\d+)/)?.[1] ?? '3.13';
  const result: ReachablePython = {
    python: join(dir, 'python', 'bin', `python${minor}`),
    env: {
      LD_LIBRARY_PATH: join(dir, 'python', 'lib'),
      PYTHONPATH: join(dir, 'site-packages'),
      PYTHONDONTWRITEBYTECODE: '1',
    },
  };
  const ready = join(dir, '.ready');
  if (await readFile(ready, 'utf8').then(() => true, () => false)) return result;
  await withLock(`${dir}.lock`, async () => {
    if (await readFile(ready, 'utf8').then(() => true, () => false)) return;
    const building = `${dir}.building`;
    await rm(building, { recursive: true, force: true });
    await mkdir(building, { mode: 0o755 });
    await chmod(building, 0o755);
    copyAsLinks(resolve(base), join(building, 'python'));
    copyAsLinks(join(venv, 'lib', `python${minor}`, 'site-packages'), join(building, 'site-packages'));
    await writeFile(join(building, '.ready'), version);
    await rm(dir, { recursive: true, force: true });
    await rename(building, dir);
  });
  return result;
}

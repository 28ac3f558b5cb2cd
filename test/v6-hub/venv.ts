// vantage6 HQ 5.0's virtualenv, outside the repository and kept between runs: made once per
// pinned version from requirements.txt (every package at an exact version, installed with
// --no-deps, so the set is exactly the committed one), then found again in well under a second.
// The same shape as test/v6-server/venv.ts, for the 5.0 packages.
import { createHash } from 'node:crypto';
import { access, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, withLock } from '../v6-server/venv.js';

/** The vantage6 release the hub tests run against. */
export const HQ_VERSION = '5.0.3';

const requirementsFile = fileURLToPath(new URL('requirements.txt', import.meta.url));
const READY = '.v6-node-ready';

/** The cache folder: `$V6_NODE_CACHE` or `~/.cache/v6-node`. */
export function cacheDir(): string {
  return process.env.V6_NODE_CACHE ?? join(homedir(), '.cache', 'v6-node');
}

/** vantage6-hq 5.0.3 declares Requires-Python >=3.13 (its wheel's METADATA). */
async function python313(): Promise<string> {
  if (process.env.V6_HQ_PYTHON) return process.env.V6_HQ_PYTHON;
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  const versions = (await readdir(pyenv).catch(() => [])).filter((v) => /^3\.13\.\d+$/.test(v)).sort();
  const candidates = [...versions.reverse().map((v) => join(pyenv, v, 'bin', 'python3.13')), '/usr/bin/python3.13', '/usr/local/bin/python3.13'];
  for (const candidate of candidates) {
    if (await access(candidate).then(() => true, () => false)) return candidate;
  }
  throw new Error(
    `no Python 3.13 for vantage6 HQ ${HQ_VERSION} (looked in ${candidates.join(', ')}): ` +
      'install one (pyenv install 3.13) or set V6_HQ_PYTHON to its python3.13',
  );
}

/** Where the virtualenv lives, one folder per version. */
export function hqVenvDir(): string {
  return join(cacheDir(), `vantage6-hq-${HQ_VERSION}`);
}

/** The virtualenv's python, after making the virtualenv if it is missing or was made from other requirements. */
export async function ensureHqVenv(): Promise<string> {
  const requirements = await readFile(requirementsFile, 'utf8');
  // vantage6-hq 5.0.3's METADATA does not list vantage6-backend-common, which its code imports
  // (vantage6.backend.common): the requirements name it on their own.
  for (const pin of [`vantage6-hq==${HQ_VERSION}\n`, `vantage6-backend-common==${HQ_VERSION}\n`, `vantage6-client==${HQ_VERSION}\n`]) {
    if (!requirements.includes(pin)) throw new Error(`${requirementsFile} does not pin ${pin.trim()}; regenerate it with pip freeze`);
  }
  const digest = createHash('sha256').update(requirements).digest('hex');
  const dir = hqVenvDir();
  const python = join(dir, 'bin', 'python');
  const ready = async () => (await readFile(join(dir, READY), 'utf8').catch(() => '')) === digest;
  if (await ready()) return python;

  await withLock(`${dir}.lock`, async () => {
    if (await ready()) return;
    const building = `${dir}.building`;
    await rm(building, { recursive: true, force: true });
    await run(await python313(), ['-m', 'venv', building]);
    const pip = join(building, 'bin', 'python');
    await run(pip, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', requirementsFile]);
    await writeFile(join(building, READY), digest);
    await rm(dir, { recursive: true, force: true });
    await rename(building, dir);
  });
  return python;
}

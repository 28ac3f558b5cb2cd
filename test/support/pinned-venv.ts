// A Python virtualenv for a pinned vantage6 release, outside the repository and kept between
// runs: made once from a requirements.txt (every package at an exact version, installed with
// --no-deps, so the set is exactly the committed one), then found again in well under a second.
// Used for the real vantage6 4.x server (test/v6-server/) and the 5.0 hub (test/v6-hub/).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

const READY = '.v6-node-ready';

/** The cache folder: `$V6_NODE_CACHE` or `~/.cache/v6-node`. */
export function cacheDir(): string {
  return process.env.V6_NODE_CACHE ?? join(homedir(), '.cache', 'v6-node');
}

/** A CPython of one minor version (`3.10`): `$<envVar>`, pyenv's newest, or the system's. */
export async function findPython(minor: string, envVar: string, purpose: string): Promise<string> {
  const given = process.env[envVar];
  if (given) return given;
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  const pattern = new RegExp(`^${minor.replace('.', '\\.')}\\.\\d+$`);
  const versions = (await readdir(pyenv).catch(() => [])).filter((v) => pattern.test(v)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const candidates = [...versions.reverse().map((v) => join(pyenv, v, 'bin', `python${minor}`)), `/usr/bin/python${minor}`, `/usr/local/bin/python${minor}`];
  for (const candidate of candidates) {
    if (await access(candidate).then(() => true, () => false)) return candidate;
  }
  throw new Error(`no Python ${minor} for ${purpose} (looked in ${candidates.join(', ')}): install one (pyenv install ${minor}) or set ${envVar} to its python${minor}`);
}

export function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` holding a lock folder that names its owner's pid; a dead owner's lock is taken over. */
export async function withLock(lock: string, fn: () => Promise<void>): Promise<void> {
  await mkdir(join(lock, '..'), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(owner) && !alive(owner)) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

export interface PinnedVenv {
  /** The virtualenv's folder. */
  readonly dir: string;
  readonly requirementsFile: string;
  /** `name==version` lines the requirements must hold (the release itself, packages its metadata forgets). */
  readonly pins: readonly string[];
  /** The interpreter to make it with. */
  readonly python: () => Promise<string>;
}

/** The virtualenv's python, after making the virtualenv if it is missing or was made from other requirements. */
export async function ensurePinnedVenv(venv: PinnedVenv): Promise<string> {
  const requirements = await readFile(venv.requirementsFile, 'utf8');
  for (const pin of venv.pins) {
    if (!requirements.includes(`${pin}\n`)) throw new Error(`${venv.requirementsFile} does not pin ${pin}; regenerate it with pip freeze`);
  }
  const digest = createHash('sha256').update(requirements).digest('hex');
  const python = join(venv.dir, 'bin', 'python');
  const ready = async () => (await readFile(join(venv.dir, READY), 'utf8').catch(() => '')) === digest;
  if (await ready()) return python;

  // Test files start servers in parallel: one builds, the others wait for it.
  await withLock(`${venv.dir}.lock`, async () => {
    if (await ready()) return;
    // Built aside and renamed into place, so a build cut short is never taken for a ready one.
    const building = `${venv.dir}.building`;
    await rm(building, { recursive: true, force: true });
    await run(await venv.python(), ['-m', 'venv', building]);
    const pip = join(building, 'bin', 'python');
    await run(pip, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', venv.requirementsFile]);
    await writeFile(join(building, READY), digest);
    await rm(venv.dir, { recursive: true, force: true });
    await rename(building, venv.dir);
  });
  return python;
}

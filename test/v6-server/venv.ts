// The real vantage6 server's virtualenv, outside the repository and kept between runs: made once
// per pinned version from requirements.txt (every package at an exact version, installed with
// --no-deps, so the set is exactly the committed one), then found again in well under a second.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The vantage6 release the tests run against: the newest 4.x on PyPI when pinned. */
export const VANTAGE6_VERSION = '4.15.2';

const requirementsFile = fileURLToPath(new URL('requirements.txt', import.meta.url));
const READY = '.v6-node-ready';

/**
 * vantage6's server images run Python 3.10, and 4.15.2 needs it: on 3.11 and later its permission
 * rules are registered as `Operation.CREATE_Scope.GLOBAL` instead of `c_glo` (Enum.__format__
 * changed), and every create answers 500.
 */
async function python310(): Promise<string> {
  if (process.env.V6_SERVER_PYTHON) return process.env.V6_SERVER_PYTHON;
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  const versions = (await readdir(pyenv).catch(() => [])).filter((v) => /^3\.10\.\d+$/.test(v)).sort();
  const candidates = [...versions.reverse().map((v) => join(pyenv, v, 'bin', 'python3.10')), '/usr/bin/python3.10', '/usr/local/bin/python3.10'];
  for (const candidate of candidates) {
    if (await access(candidate).then(() => true, () => false)) return candidate;
  }
  throw new Error(
    `no Python 3.10 for the vantage6 ${VANTAGE6_VERSION} server (looked in ${candidates.join(', ')}): ` +
      'install one (pyenv install 3.10) or set V6_SERVER_PYTHON to its python3.10',
  );
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

/** Where the virtualenv lives: `$V6_NODE_CACHE` or `~/.cache/v6-node`, one folder per version. */
export function venvDir(): string {
  return join(process.env.V6_NODE_CACHE ?? join(homedir(), '.cache', 'v6-node'), `vantage6-server-${VANTAGE6_VERSION}`);
}

/** The virtualenv's python, after making the virtualenv if it is missing or was made from other requirements. */
export async function ensureServerVenv(): Promise<string> {
  const requirements = await readFile(requirementsFile, 'utf8');
  if (!requirements.includes(`vantage6_server==${VANTAGE6_VERSION}\n`)) {
    throw new Error(`${requirementsFile} does not pin vantage6_server==${VANTAGE6_VERSION}; regenerate it with pip freeze`);
  }
  const digest = createHash('sha256').update(requirements).digest('hex');
  const dir = venvDir();
  const python = join(dir, 'bin', 'python');
  const ready = async () => (await readFile(join(dir, READY), 'utf8').catch(() => '')) === digest;
  if (await ready()) return python;

  // Test files start servers in parallel: one builds, the others wait for it.
  await withLock(`${dir}.lock`, async () => {
    if (await ready()) return;
    // Built aside and renamed into place, so a build cut short is never taken for a ready one.
    const building = `${dir}.building`;
    await rm(building, { recursive: true, force: true });
    await run(await python310(), ['-m', 'venv', building]);
    const pip = join(building, 'bin', 'python');
    await run(pip, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', requirementsFile]);
    await writeFile(join(building, READY), digest);
    await rm(dir, { recursive: true, force: true });
    await rename(building, dir);
  });
  return python;
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

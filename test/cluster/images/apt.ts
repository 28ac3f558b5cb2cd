// Debian packages the image scripts need, installed with apt-get when missing (idempotent: a
// machine that has them all makes no apt call at all).
import { run } from './run.js';

async function installed(name: string): Promise<boolean> {
  return run('dpkg-query', ['-W', '-f=${Status}', name]).then(
    (status) => status.trim() === 'install ok installed',
    () => false,
  );
}

let updated = false;

/** Installs whichever of `packages` is missing; throws naming them when this process cannot. */
export async function ensureDebianPackages(packages: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const name of packages) if (!(await installed(name))) missing.push(name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages; run as root or install them: apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  if (!updated) {
    await run('apt-get', [...lock, 'update'], { env });
    updated = true;
  }
  await run('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...missing], { env });
}

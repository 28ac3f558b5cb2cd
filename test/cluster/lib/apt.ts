// Installs the Debian packages the cluster needs, only those not installed yet, so a fresh CI
// machine gets them and a warm one pays one dpkg-query.
import { run, tryRun } from './exec.js';

async function missing(packages: readonly string[]): Promise<string[]> {
  const out = (await tryRun('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...packages])) ?? '';
  const installed = new Set(
    out
      .split('\n')
      .filter((line) => line.endsWith(' installed'))
      .map((line) => line.split(' ')[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

export async function ensurePackages(packages: readonly string[], log: (line: string) => void): Promise<void> {
  const absent = await missing(packages);
  if (absent.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`the test cluster needs root to install ${absent.join(' ')} (and to run)`);
  log(`installing ${absent.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env });
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...absent], { env });
}

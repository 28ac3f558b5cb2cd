// A minimal Debian root filesystem from Debian's own mirror (debootstrap --variant=minbase), the
// bottom layer of the Node and Python base images. Trimmed like Debian's "slim" images: no docs,
// man pages, locales or apt lists.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDebianPackages } from './apt.js';
import { run } from './run.js';

export interface RootfsOptions {
  suite: string;
  /** Extra packages (`--include`). */
  include: readonly string[];
  mirror: string;
}

/** The Debian mirror this machine's apt uses (deb822 `.sources` or one-line `sources.list`). */
export async function debianMirror(): Promise<string> {
  const files: string[] = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  for (const name of await readdir(dir).catch(() => [])) if (name.endsWith('.sources') || name.endsWith('.list')) files.push(join(dir, name));
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const uris = [...text.matchAll(/^URIs:\s*(\S+)/gm), ...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s/gm)].map((m) => m[1]!);
    const mirror = uris.find((uri) => /\/debian\/?$/.test(uri));
    if (mirror !== undefined) return mirror.replace(/\/$/, '');
  }
  throw new Error('no Debian mirror in /etc/apt/sources.list{,.d}; set V6_IMAGES_DEBIAN_MIRROR to one (e.g. http://deb.debian.org/debian)');
}

/** Runs debootstrap into `target` (which must not exist yet) and trims the result. */
export async function debootstrap(target: string, options: RootfsOptions): Promise<void> {
  await ensureDebianPackages(['debootstrap', 'debian-archive-keyring']);
  const include = options.include.length === 0 ? [] : [`--include=${options.include.join(',')}`];
  try {
    await run('debootstrap', ['--variant=minbase', ...include, options.suite, target, options.mirror]);
  } catch (error) {
    const log = await readFile(join(target, 'debootstrap', 'debootstrap.log'), 'utf8').catch(() => '');
    throw new Error(`debootstrap ${options.suite} from ${options.mirror} failed (is the mirror reachable?)\n${log.split('\n').slice(-15).join('\n')}`, { cause: error });
  }
  await slim(target);
}

/** What Debian's slim images leave out, and what a build machine leaves behind. */
async function slim(root: string): Promise<void> {
  // debootstrap mounts these while it runs; an interrupted run could leave them mounted.
  for (const mount of ['proc', 'sys', 'dev/pts']) await run('umount', ['-l', join(root, mount)]).catch(() => undefined);
  const globs = [
    'usr/share/doc/*',
    'usr/share/man/*',
    'usr/share/info/*',
    'usr/share/locale/*',
    'usr/share/lintian/*',
    'var/lib/apt/lists/*',
    'var/cache/apt/*.bin',
    'var/cache/apt/archives/*.deb',
    'var/cache/debconf/*-old',
    'var/log/*',
    'debootstrap',
    'dev/*',
    'run/*',
    'tmp/*',
  ];
  await run('sh', ['-c', `cd "$1" && rm -rf ${globs.join(' ')}`, 'slim', root]);
  // The container runtime provides these; the image must not fix the host's.
  for (const file of ['etc/hostname', 'etc/resolv.conf']) await rm(join(root, file), { force: true });
  await run('sh', ['-c', 'cd "$1" && : > etc/hostname && : > etc/resolv.conf && rm -f etc/machine-id var/lib/dbus/machine-id && : > etc/machine-id', 'slim', root]);
}

/** The root filesystem as one tar layer, numeric owners, mtimes clamped to 0, sorted. */
export async function rootfsTar(root: string, output: string): Promise<void> {
  await run('tar', ['--numeric-owner', '--sort=name', '--mtime=@0', '--clamp-mtime', '--xattrs', '--xattrs-include=security.capability', '-C', root, '-cf', output, '.']);
}

// The hash of what a Dockerfile build reads from its context: the files under each COPY/ADD
// source (paths, modes, contents), so an unchanged repository does not rebuild and a change to
// any copied file does. A source with a wildcard, or `.`, means the whole context less .dockerignore.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, normalize, relative } from 'node:path';

/** A .dockerignore line as a matcher of context-relative paths (`*`, `**`, `?`; no `!`). */
export function ignoreMatcher(lines: readonly string[]): (path: string) => boolean {
  const patterns = lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const negated = patterns.find((p) => p.startsWith('!'));
  if (negated !== undefined) throw new Error(`.dockerignore: exceptions (${negated}) are not supported by the image scripts' context hash`);
  const regexes = patterns.map((p) => {
    const body = normalize(p).replace(/^\/+|\/+$/g, '').replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\0').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\0/g, '.*');
    return new RegExp(`^${body}(/.*)?$`);
  });
  return (path) => regexes.some((r) => r.test(path));
}

async function walk(context: string, path: string, ignored: (path: string) => boolean, out: string[]): Promise<void> {
  const rel = relative(context, path);
  if (rel !== '' && ignored(rel)) return;
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) throw new Error(`the build context has no ${rel} (the Dockerfile copies it)`);
  if (info.isDirectory()) {
    for (const name of (await readdir(path)).sort()) await walk(context, join(path, name), ignored, out);
  } else {
    out.push(rel);
  }
}

/** sha256 over every file the sources name: path, mode, and content (or a symlink's target). */
export async function hashContext(context: string, sources: readonly string[]): Promise<{ hash: string; files: number }> {
  const dockerignore = await readFile(join(context, '.dockerignore'), 'utf8').catch(() => '');
  const ignored = ignoreMatcher(dockerignore.split('\n'));
  const whole = sources.some((s) => /[*?[]/.test(s) || normalize(s) === '.' || normalize(s) === './');
  const roots = whole ? ['.'] : [...new Set(sources.map((s) => normalize(s).replace(/^\/+/, '')))].sort();
  const files: string[] = [];
  for (const root of roots) await walk(context, join(context, root), ignored, files);
  const hash = createHash('sha256');
  for (const rel of [...new Set(files)].sort()) {
    const path = join(context, rel);
    const info = await lstat(path);
    hash.update(`${rel}\0${(info.mode & 0o7777).toString(8)}\0`);
    hash.update(info.isSymbolicLink() ? `-> ${await readlink(path)}` : await readFile(path));
    hash.update('\0');
  }
  return { hash: hash.digest('hex'), files: files.length };
}

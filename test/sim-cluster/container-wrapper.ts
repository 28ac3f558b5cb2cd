// The sh wrappers a container runs through, generated from its launch and what the host has.
//
// The container gets a root of its own, so that its mount points are made there and never on the
// host: removing them afterwards would not be safe, since an rmdir of a folder that is a mount
// point in another simulated cluster's mount namespace detaches that mount there. `setup` runs in
// the container's private mount namespace: it binds the host's `/` recursively at `root` (each
// host mount keeps its read-only flag), so every path resolves as on the host. Each folder the
// host has that must hold a mount point the host lacks (the deepest existing folder on the way)
// is covered, at its place in that root, by a tmpfs into which its entries are bound back one by
// one (symlinks copied), so the missing folders and files are made in the tmpfs; covering only
// that folder keeps it to a few mount calls per container. Then the volumes are bound (remounted
// read-only where asked) and `setup` chroots there to run `entrypoint`, which changes to the
// working dir, reports a missing executable as a start error, drops to runAsUser/runAsGroup
// (`setpriv`) and execs the container's argv (its "$@"), so the process id stays the container's.
import { dirname, join, normalize, relative } from 'node:path';
import type { BindMount } from './pod-volumes.js';

export interface HostEntry {
  name: string;
  kind: 'dir' | 'file' | 'symlink';
  /** A symlink's target. */
  link?: string;
}

/** The host reads the wrappers depend on. */
export interface HostView {
  /** `path` as its longest existing prefix, resolved through symlinks, and the components after it. */
  resolve(path: string): { existing: string; missing: string[] };
  /** A folder's mode, owner and entries (none when it is not a folder). */
  folder(path: string): { mode: number; uid: number; gid: number; entries: HostEntry[] };
}

/** Absolute paths of the host tools, since the container's PATH may lack them. */
export interface WrapperTools {
  mount: string;
  mkdir: string;
  ln: string;
  chroot: string;
  setpriv: string;
}

export interface WrapperLaunch {
  workingDir?: string;
  /** Sorted parents first. */
  mounts: readonly BindMount[];
  runAsUser?: number;
  runAsGroup?: number;
  supplementalGroups?: number[];
}

export interface WrapperFiles {
  /** An empty folder the container's root is built on. */
  root: string;
  /** Where the `entrypoint` script is written. */
  entrypoint: string;
  /** Where `entrypoint` writes why the container could not start. */
  startError: string;
}

export function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A mount point (or the working dir, which has no mount) and where it is made. */
interface Point {
  /** The path in the container, its host symlinks resolved. */
  path: string;
  file: boolean;
  mount?: BindMount;
  /** Whether the point is to be made: missing on the host, or inside another volume. */
  make: boolean;
  /** The host folder covered to make it, and the entry of that folder it adds. */
  cover?: { folder: string; entry: string };
}

function within(parent: string, path: string): boolean {
  return path === parent || path.startsWith(parent === '/' ? '/' : `${parent}/`);
}

function points(launch: WrapperLaunch, host: HostView): Point[] {
  const placed: Array<{ target: string; path: string }> = [];
  const wanted: Array<{ target: string; file: boolean; mount?: BindMount }> = [
    ...launch.mounts.map((mount) => ({ target: normalize(mount.target), file: mount.file, mount })),
    ...(launch.workingDir === undefined ? [] : [{ target: normalize(launch.workingDir), file: false }]),
  ];
  return wanted.map(({ target, file, mount }) => {
    // A point inside a volume is made in the volume, as a container runtime does.
    const outer = placed.findLast((p) => within(p.target, target));
    let point: Point;
    if (outer !== undefined) point = { path: join(outer.path, relative(outer.target, target)), file, make: true };
    else {
      const { existing, missing } = host.resolve(target);
      point = { path: join(existing, ...missing), file, make: missing.length > 0, ...(missing.length > 0 ? { cover: { folder: existing, entry: missing[0]! } } : {}) };
    }
    if (mount !== undefined) placed.push({ target, path: point.path });
    return mount === undefined ? point : { ...point, mount };
  });
}

/** Shell lines that cover `folder` (at `at`) with a tmpfs holding its host entries, except `skip`. */
function cover(folder: string, at: string, skip: ReadonlySet<string>, host: HostView, t: WrapperTools): string[] {
  const { mode, uid, gid, entries } = host.folder(folder);
  const kept = entries.filter((e) => !skip.has(e.name));
  const dirs = kept.filter((e) => e.kind === 'dir').map((e) => quote(join(at, e.name)));
  // The shell's working dir keeps the host folder reachable under the tmpfs; --no-canonicalize
  // stops mount from turning the relative sources into paths the tmpfs now hides.
  const lines = [`cd ${quote(at)}`, `${t.mount} -t tmpfs -o mode=${(mode & 0o7777).toString(8)},uid=${uid},gid=${gid} v6-sim-root ${quote(at)}`];
  if (dirs.length > 0) lines.push(`${t.mkdir} ${dirs.join(' ')}`);
  for (const entry of kept) {
    const source = quote(`./${entry.name}`);
    const target = quote(join(at, entry.name));
    if (entry.kind === 'symlink') {
      lines.push(`${t.ln} -s ${quote(entry.link!)} ${target}`);
      continue;
    }
    if (entry.kind === 'file') lines.push(`: > ${target}`);
    // An entry the host removed since it was listed is left out.
    lines.push(`${t.mount} --no-canonicalize --rbind ${source} ${target} || [ ! -e ${source} ]`);
  }
  return lines;
}

function make(path: string, file: boolean, t: WrapperTools): string {
  const target = quote(path);
  return file ? `[ -e ${target} ] || { ${t.mkdir} -p ${quote(dirname(path))}; : > ${target}; }` : `${t.mkdir} -p ${target}`;
}

/** The script run in the new mount namespace: builds the root, then runs `entrypoint` chrooted there. */
export function setupScript(launch: WrapperLaunch, files: WrapperFiles, host: HostView, t: WrapperTools): string {
  const at = (path: string): string => join(files.root, path);
  const all = points(launch, host);
  const lines = ['set -e', `${t.mount} --rbind / ${quote(files.root)}`];
  const covers = new Map<string, Set<string>>();
  for (const { cover: c } of all) if (c !== undefined) covers.set(c.folder, (covers.get(c.folder) ?? new Set()).add(c.entry));
  const outerFirst = [...covers].sort(([a], [b]) => a.split('/').length - b.split('/').length);
  for (const [folder, added] of outerFirst) lines.push(...cover(folder, at(folder), added, host, t));
  for (const point of all) {
    if (point.make) lines.push(make(at(point.path), point.file, t));
    if (point.mount === undefined) continue;
    lines.push(`${t.mount} --bind ${quote(point.mount.source)} ${quote(at(point.path))}`);
    if (point.mount.readOnly) lines.push(`${t.mount} -o remount,bind,ro ${quote(at(point.path))}`);
  }
  lines.push(`exec ${t.chroot} ${quote(files.root)} /bin/sh ${quote(files.entrypoint)} "$@"`);
  return `${lines.join('\n')}\n`;
}

/** The script run in the container's root; the container's argv is its "$@". */
export function entrypointScript(launch: WrapperLaunch, files: WrapperFiles, t: WrapperTools): string {
  const lines = ['set -e'];
  if (launch.workingDir !== undefined) lines.push(`cd ${quote(launch.workingDir)}`);
  lines.push(
    'if ! command -v "$1" >/dev/null 2>&1; then',
    `  printf 'exec: "%s": executable file not found in $PATH' "$1" > ${quote(files.startError)}`,
    '  exit 128',
    'fi',
  );
  const drop = launch.runAsUser === undefined && launch.runAsGroup === undefined
    ? ''
    : `${t.setpriv} --reuid=${launch.runAsUser ?? 0} --regid=${launch.runAsGroup ?? 0} ${
        launch.supplementalGroups?.length ? `--groups=${launch.supplementalGroups.join(',')}` : '--clear-groups'
      } -- `;
  lines.push(`exec ${drop}"$@"`);
  return `${lines.join('\n')}\n`;
}

// Opening files in places an algorithm can write to. Everything there is hostile: a name may be a
// symbolic link (to the agent's environment, a key, another run's files), a FIFO that blocks the
// reader forever, a device that never ends, a directory, or a hard link to a file the algorithm
// may not read. Files are opened without following links and without blocking, and their type and
// link count are checked on the opened descriptor, never on the path (a check of the path could
// be raced). Reads are bounded. Each refusal says what was found.
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, type FileHandle } from 'node:fs/promises';

/** A name where an algorithm can write is not the regular file (or folder) of its own the node expects. */
export class RunFileRefusedError extends Error {
  readonly code = 'V6_RUN_FILE_REFUSED';

  constructor(
    /** What the node looked for, as a phrase: "the run's output". */
    readonly file: string,
    /** What it found instead: "a symbolic link", "a FIFO", "a hard link (2 names for one file)". */
    readonly found: string,
  ) {
    super(`${file} is ${found}; the node follows no links and opens nothing but its own regular files and folders where an algorithm can write`);
  }
}

/** A file holds more than the reader allows. */
export class FileTooLargeError extends Error {
  readonly code = 'V6_RUN_FILE_TOO_LARGE';

  constructor(
    readonly file: string,
    /** What was seen: the size, or what a read found once past the limit (the file grew while it was read). */
    readonly size: number,
    readonly limit: number,
  ) {
    super(`${file} holds ${size} bytes or more, more than the limit of ${limit}`);
  }
}

const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;
/** Reads of a file go in chunks of at least its size + 1 (one read for a file that does not change), within these bounds. */
const MIN_CHUNK = 64 * 1024;
const MAX_CHUNK = 8 * 1024 * 1024;
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** What a non-regular file is, in the words of a refusal. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** Turns the errors a no-follow open gives for a hostile name into refusals; others pass. */
function refusalOf(error: unknown, file: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new RunFileRefusedError(file, 'a symbolic link');
  if (code === 'ENXIO') return new RunFileRefusedError(file, 'a FIFO or a socket');
  if (code === 'EISDIR') return new RunFileRefusedError(file, 'a directory');
  return error;
}

/** Refuses a descriptor that is not a regular file with exactly one name. */
async function checkRegular(handle: FileHandle, file: string): Promise<Stats> {
  const stats = await handle.stat();
  if (!stats.isFile()) throw new RunFileRefusedError(file, kindOf(stats));
  if (stats.nlink !== 1) throw new RunFileRefusedError(file, `a hard link (${stats.nlink} names for one file)`);
  return stats;
}

/**
 * The regular file at `path`, opened for reading without following a link or blocking, with its
 * stats; undefined when there is no such name. Throws `RunFileRefusedError` for anything else at
 * that name. The caller closes the handle.
 */
export async function openRegularFile(path: string, file: string): Promise<{ handle: FileHandle; stats: Stats } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refusalOf(error, file);
  }
  try {
    return { handle, stats: await checkRegular(handle, file) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * The content of the regular file at `path`, at most `limit` bytes; undefined when there is no
 * such name. Throws `RunFileRefusedError` for anything else at that name and `FileTooLargeError`
 * when the file holds more than `limit` bytes (by its size, or by what a read finds).
 */
export async function readRegularFile(path: string, file: string, limit: number): Promise<Buffer | undefined> {
  const opened = await openRegularFile(path, file);
  if (!opened) return undefined;
  const { handle, stats: { size } } = opened;
  try {
    if (size > limit) throw new FileTooLargeError(file, size, limit);
    // The size can change under the reader: read up to one byte past the limit to see it did.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(limit + 1 - total, Math.max(size + 1, MIN_CHUNK), MAX_CHUNK);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(chunk, 0, want, total);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) throw new FileTooLargeError(file, total, limit);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Writes `content` to the regular file at `path` with exactly `mode` and group `gid`, creating it
 * when absent; `exclusive` leaves an existing file as it is. A name that is not a regular file of
 * one name is refused, never written through.
 */
export async function writeRegularFile(
  path: string,
  file: string,
  content: Uint8Array | string,
  options: { mode: number; gid: number; exclusive?: boolean },
): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, WRITE_FLAGS | (options.exclusive ? constants.O_EXCL : 0), options.mode);
  } catch (error) {
    if (options.exclusive && (error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw refusalOf(error, file);
  }
  try {
    const stats = await checkRegular(handle, file);
    await handle.truncate(0);
    await handle.writeFile(content);
    await ensureOwnership(handle, stats, options);
  } finally {
    await handle.close();
  }
}

/**
 * Makes the folder `path` (its parent must exist) or takes the one there, and gives it exactly
 * `mode` and group `gid`. A name there that is not a folder (a link to one included) is refused.
 */
export async function ensureFolder(path: string, file: string, options: { mode: number; gid: number }): Promise<void> {
  try {
    await mkdir(path, options.mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTDIR' && code !== 'ELOOP') throw error;
    // Refused already; the name's own type only makes the message say what is there.
    throw new RunFileRefusedError(file, kindOf(await lstat(path)));
  }
  try {
    const stats = await handle.stat();
    if (!stats.isDirectory()) throw new RunFileRefusedError(file, kindOf(stats));
    await ensureOwnership(handle, stats, options);
  } finally {
    await handle.close();
  }
}

/**
 * Gives an opened file or folder exactly `mode` (whatever the umask made of it) and the group
 * `gid` (a no-op when it has it, so an agent that is no member of another group never needs to).
 */
async function ensureOwnership(handle: FileHandle, stats: Stats, options: { mode: number; gid: number }): Promise<void> {
  if (stats.gid !== options.gid) await handle.chown(-1, options.gid);
  // chown clears the setgid and setuid bits, so the mode comes after it.
  await handle.chmod(options.mode);
}

// What a folder an algorithm writes to holds on disk, counted without following anything in it:
// every entry by lstat, its allocated blocks (a sparse file counts what it really takes), and no
// more entries than a bound (so many small files are a finding, not a slow walk).
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskUsage {
  /** Allocated bytes of everything below the folder, the folder itself included. */
  readonly bytes: number;
  readonly entries: number;
  /** More entries than the bound: `bytes` counts only those walked. */
  readonly truncated: boolean;
}

/** The usage of `path`; an absent path uses nothing. */
export async function diskUsage(path: string, maxEntries: number): Promise<DiskUsage> {
  let bytes = 0;
  let entries = 0;
  const pending = [path];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let stats;
    try {
      stats = await lstat(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
      throw error;
    }
    entries += 1;
    bytes += stats.blocks * 512;
    if (entries > maxEntries) return { bytes, entries, truncated: true };
    if (!stats.isDirectory()) continue;
    const names = await readdir(current).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw error;
    });
    for (const name of names) pending.push(join(current, name));
  }
  return { bytes, entries, truncated: false };
}

// A minimal ustar writer for image layers and OCI archives: regular files, directories and
// symlinks, owned by root, mtime 0, so the same entries always give the same bytes (and digest).

export interface TarEntry {
  /** Path inside the archive, without a leading slash; a directory may end with `/`. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (e.g. 0o755); defaults 0o644 for files, 0o755 for directories. */
  mode?: number;
  data?: Buffer;
  /** The target of a symlink. */
  linkname?: string;
  uid?: number;
  gid?: number;
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

/** Splits a long path into ustar's prefix (≤155) and name (≤100) fields. */
function splitPath(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { prefix, name };
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  const path = entry.type === 'dir' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  const { prefix, name } = splitPath(path);
  const mode = entry.mode ?? (entry.type === 'file' ? 0o644 : 0o755);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(mode, 8), 100, 'ascii');
  block.write(octal(entry.uid ?? 0, 8), 108, 'ascii');
  block.write(octal(entry.gid ?? 0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii'); // mtime
  block.write(' '.repeat(8), 148, 'ascii'); // checksum placeholder
  block.write(entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2', 156, 'ascii');
  if (entry.linkname !== undefined) block.write(entry.linkname, 157, 100, 'utf8');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'ascii');
  return block;
}

/** The tar archive of the entries, in the order given, with the two zero blocks that end it. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.type === 'symlink' && entry.linkname === undefined) throw new Error(`tar: symlink ${entry.path} has no target`);
    const data = entry.type === 'file' ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(header(entry, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

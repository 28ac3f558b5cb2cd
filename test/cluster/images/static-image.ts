// An image whose only content is a static binary (and any small files beside it): the pause
// image, CoreDNS and the like. Written as an OCI archive directly (see oci-archive.ts): no
// buildah, no base image, the same binary always gives the same digest.
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cachedDir, inputKey } from './cache.js';
import { ociArchive, normalizeName, type ImageConfig } from './oci-archive.js';
import { tar, type TarEntry } from './tar.js';

/** An image ready to import or push. */
export interface BuiltImage {
  /** Full reference inside the archive, e.g. `registry.k8s.io/pause:3.10`. */
  name: string;
  /** An OCI archive: `ctr -n k8s.io images import <archive>`, `skopeo copy oci-archive:<archive> …`. */
  archive: string;
  /** The manifest digest (`sha256:…`). */
  digest: string;
  /** Whether it came from the cache. */
  cached: boolean;
}

export interface StaticFile {
  /** Absolute path in the image. */
  path: string;
  /** The content, or with `link` nothing. */
  data?: Buffer | string;
  /** Makes the file a symbolic link to this target (busybox's applets, say). */
  link?: string;
  mode?: number;
}

export interface StaticImageOptions {
  /** The image reference, e.g. `registry.k8s.io/coredns/coredns:v1.12.1`. */
  name: string;
  /** Host path of a statically linked executable. */
  binary: string;
  /** Where it goes in the image; default `/<basename>`. */
  path?: string;
  /** Default `[path]`. */
  entrypoint?: string[];
  cmd?: string[];
  /** Default `65532:65532`, the distroless nonroot user; pause runs as whatever the runtime says. */
  user?: string;
  env?: string[];
  /** Extra files (e.g. /etc/passwd, a Corefile). */
  files?: StaticFile[];
}

/** The interpreter a dynamically linked ELF executable names (PT_INTERP), or undefined. */
export function elfInterpreter(elf: Buffer): string | undefined {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF executable');
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error('not a 64-bit little-endian ELF executable');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) === 3) {
      const offset = Number(elf.readBigUInt64LE(ph + 8));
      const size = Number(elf.readBigUInt64LE(ph + 32));
      return elf.subarray(offset, offset + size).toString('utf8').replace(/\0+$/, '');
    }
  }
  return undefined;
}

/** The parent directories of `path` (`/a/b/c` → `a`, `a/b`), for the layer's directory entries. */
function parents(path: string): string[] {
  const parts = path.replace(/^\/+/, '').split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** The layer: directories first, then the binary and the files, sorted, root-owned. */
export function staticLayer(binaryPath: string, binary: Buffer, files: readonly StaticFile[]): Buffer {
  const all: StaticFile[] = [{ path: binaryPath, data: binary, mode: 0o755 }, ...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  const dirs = [...new Set(all.flatMap((f) => parents(f.path)))].sort();
  const entries: TarEntry[] = [
    ...dirs.map((path): TarEntry => ({ path, type: 'dir', mode: path === 'tmp' ? 0o1777 : 0o755 })),
    ...all.map((f): TarEntry =>
      f.link === undefined
        ? { path: f.path.replace(/^\/+/, ''), type: 'file', data: Buffer.from(f.data ?? ''), mode: f.mode ?? 0o644 }
        : { path: f.path.replace(/^\/+/, ''), type: 'symlink', linkname: f.link, mode: 0o777 },
    ),
  ];
  return tar(entries);
}

/** Builds (or takes from the cache) the image of one static binary. */
export async function staticBinaryImage(options: StaticImageOptions): Promise<BuiltImage> {
  const binary = await readFile(options.binary).catch((error: Error) => {
    throw new Error(`static image ${options.name}: cannot read the binary ${options.binary}: ${error.message}`);
  });
  let interpreter: string | undefined;
  try {
    interpreter = elfInterpreter(binary);
  } catch (error) {
    throw new Error(`static image ${options.name}: ${options.binary} is ${(error as Error).message}`, { cause: error });
  }
  if (interpreter !== undefined) {
    throw new Error(
      `static image ${options.name}: ${options.binary} is dynamically linked (it needs ${interpreter}); ` +
        'build it statically (Go: CGO_ENABLED=0; C: gcc -static) or use buildDockerfileImage with a Debian base',
    );
  }
  const path = options.path ?? `/${basename(options.binary)}`;
  const config: ImageConfig = {
    Entrypoint: options.entrypoint ?? [path],
    ...(options.cmd === undefined ? {} : { Cmd: options.cmd }),
    Env: options.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin'],
    User: options.user ?? '65532:65532',
  };
  const name = normalizeName(options.name);
  const files = options.files ?? [];
  const key = inputKey('static-image/2', name, path, config, binary, ...files.map((f) => ({ path: f.path, mode: f.mode ?? 0o644, link: f.link, data: Buffer.from(f.data ?? '').toString('base64') })));
  const { dir, hit } = await cachedDir('static', key, async (scratch) => {
    const built = ociArchive({ name, layers: [staticLayer(path, binary, files)], config });
    await writeFile(join(scratch, 'image.oci.tar'), built.archive);
    await writeFile(join(scratch, 'digest'), built.digest);
  });
  const digest = (await readFile(join(dir, 'digest'), 'utf8')).trim();
  return { name, archive: join(dir, 'image.oci.tar'), digest, cached: hit };
}

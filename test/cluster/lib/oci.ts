// Minimal OCI images made here from host files, without any image builder: one uncompressed
// layer (a tar of a root filesystem we lay out), a config, a manifest, an index, packed as an
// OCI archive that `ctr images import` and `skopeo copy oci-archive:` both read.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';

export interface ImageSpec {
  /** Full name, e.g. v6.local/busybox:1 */
  name: string;
  /** Lays out the root filesystem in the given (empty) directory. */
  populate: (rootfs: string) => Promise<void>;
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function writeBlob(layout: string, data: Buffer | string): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  await writeFile(join(layout, 'blobs', 'sha256', digest.slice(7)), data);
  return { digest, size: Buffer.byteLength(data) };
}

/** Builds the image as an OCI archive in workDir (once: an existing archive is reused) and returns its path. */
export async function buildOciArchive(spec: ImageSpec, workDir: string): Promise<string> {
  const archive = join(workDir, 'image.oci.tar');
  if (await stat(archive).then(() => true, () => false)) return archive;
  const rootfs = join(workDir, 'rootfs');
  const layout = join(workDir, 'layout');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true });
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  await spec.populate(rootfs);
  const layerTar = join(workDir, 'layer.tar');
  await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', rootfs, '-cf', layerTar, '.']);
  const layer = await writeBlob(layout, await readFile(layerTar));
  const config = await writeBlob(
    layout,
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: spec.entrypoint, Cmd: spec.cmd, User: spec.user, Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = await writeBlob(
    layout,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    }),
  );
  const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', layout, '-cf', `${archive}.partial`, '.']);
  await run('mv', [`${archive}.partial`, archive]);
  return archive;
}

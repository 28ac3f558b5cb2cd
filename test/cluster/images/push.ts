// Pushing a built OCI archive to a registry with skopeo (plain HTTP or self-signed TLS allowed:
// the cluster's local registry).
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackages } from './apt.js';
import { run } from './run.js';

export interface PushOptions {
  /** `user:password` for the registry's basic auth. */
  creds?: string;
  /** Verify the registry's TLS certificate (default false: the local test registry). */
  tlsVerify?: boolean;
}

/** Copies the archive to `docker://<reference>`; resolves with the pushed manifest digest. */
export async function pushArchive(archive: string, reference: string, options: PushOptions = {}): Promise<string> {
  await ensureDebianPackages(['skopeo']);
  if (reference.includes('://')) throw new Error(`push: give the reference without a scheme (registry:5000/repo:tag), not ${reference}`);
  const tls = `--dest-tls-verify=${options.tlsVerify ?? false}`;
  const creds = options.creds === undefined ? [] : ['--dest-creds', options.creds];
  const digestFile = join(tmpdir(), `v6-images-push-${process.pid}-${Date.now()}.digest`);
  await run('skopeo', ['copy', '--quiet', tls, ...creds, '--digestfile', digestFile, `oci-archive:${archive}`, `docker://${reference}`]);
  const digest = (await readFile(digestFile, 'utf8')).trim();
  await rm(digestFile, { force: true });
  return digest;
}

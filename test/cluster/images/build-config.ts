// What RUN steps need to reach the package registries from inside a build container the way the
// host does: the host's CA bundle (a TLS-inspecting proxy's CA may be in it) and npm/pip config
// naming it, bind-mounted for the build only (`buildah bud --volume`), never written into a layer.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, STATE_ROOT } from './cache.js';
import { run } from './run.js';

const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** `--volume` arguments for buildah bud (empty when the host has no CA bundle to share). */
export async function buildVolumes(): Promise<string[]> {
  if (!(await exists(HOST_CA_BUNDLE))) return [];
  const dir = join(STATE_ROOT, 'build-config');
  await mkdir(dir, { recursive: true });
  const registry = (await run('npm', ['config', 'get', 'registry']).catch(() => '')).trim() || 'https://registry.npmjs.org/';
  await writeFile(join(dir, 'npmrc'), `registry=${registry}\ncafile=${HOST_CA_BUNDLE}\nupdate-notifier=false\nfund=false\naudit=false\n`);
  await writeFile(join(dir, 'pip.conf'), `[global]\ncert = ${HOST_CA_BUNDLE}\ndisable-pip-version-check = true\n`);
  return [
    '--volume', `${HOST_CA_BUNDLE}:${HOST_CA_BUNDLE}:ro`,
    // npm's global config is <prefix>/etc/npmrc; the Node base image's prefix is /usr/local.
    '--volume', `${join(dir, 'npmrc')}:/usr/local/etc/npmrc:ro`,
    '--volume', `${join(dir, 'pip.conf')}:/etc/pip.conf:ro`,
  ];
}

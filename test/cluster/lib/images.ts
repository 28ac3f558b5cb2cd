// The images the cluster runs, made by the image tier (test/cluster/images/): the sandbox (pause)
// image, and a busybox image (Debian's busybox-static: sh, nc, httpd, nslookup) for the
// local-path helper pods and for the smoke tests' clients and servers. Imported into containerd
// under v6.local/…, so nothing is ever pulled for them; pushed to the local registry on demand.
import { importIntoContainerd } from '../images/containerd.js';
import { pauseImage } from '../images/pause.js';
import { pushArchive } from '../images/push.js';
import { run } from '../images/run.js';
import { staticBinaryImage, type BuiltImage } from '../images/static-image.js';
import { BUSYBOX_IMAGE, type NodeSpec, PAUSE_IMAGE, REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER } from './config.js';
import { containerdSocket } from './containerd.js';

export const clusterPauseImage = (): Promise<BuiltImage> => pauseImage(PAUSE_IMAGE);

export async function busyboxImage(name = BUSYBOX_IMAGE): Promise<BuiltImage> {
  const applets = (await run('/bin/busybox', ['--list'])).split('\n').filter((a) => a !== '' && a !== 'busybox');
  return staticBinaryImage({
    name,
    binary: '/bin/busybox',
    path: '/bin/busybox',
    entrypoint: [],
    cmd: ['sh'],
    user: '0:0',
    env: ['PATH=/bin'],
    files: [
      ...applets.map((applet) => ({ path: `/bin/${applet}`, link: 'busybox' })),
      { path: '/etc/passwd', data: 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' },
      { path: '/etc/group', data: 'root:x:0:\nnobody:x:65534:\n' },
      // Its own name inside, so two names never share an image ID (containerd's CRI store keys
      // images by ID: a pulled twin of an imported image made the kubelet lose the imported one).
      { path: '/etc/v6-image', data: `${name}\n` },
      { path: '/tmp/.keep', data: '' },
    ],
  });
}

/** Imports the image into a node's containerd, in the k8s.io namespace where the kubelet finds it. */
export async function importImage(image: Promise<BuiltImage>, node: NodeSpec): Promise<void> {
  await importIntoContainerd((await image).archive, { address: containerdSocket(node) });
}

/** Pushes the image to the local registry as REGISTRY/<repository>, with the registry's credentials; resolves with the reference and the pushed manifest's digest. */
export async function pushImage(image: Promise<BuiltImage>, repository: string): Promise<{ reference: string; digest: string }> {
  const reference = `${REGISTRY}/${repository}`;
  const digest = await pushArchive((await image).archive, reference, { creds: `${REGISTRY_USER}:${REGISTRY_PASSWORD}` });
  return { reference, digest };
}

// containerd (Debian's 1.6) for the kubelet: its own socket, root and state under the state dir
// (network namespaces too), our CNI network on our bridge, a pause image we built, and registry
// hosts that resolve to the local registry only, so an image name can never cause a pull from
// anywhere else.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BRIDGE, CNI_NETWORK, NODE_IP, PAUSE_IMAGE, POD_CIDR, REGISTRY, paths } from './config.js';

const hostsDir = join(paths.containerd, 'certs.d');

export const containerdConfigPath = join(paths.etc, 'containerd.toml');

/** containerd's TOML, written by hand: it is flat enough, and the project has no TOML library. */
function containerdToml(): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(paths.containerd, 'root')}"
state = "${join(paths.containerd, 'state')}"

[grpc]
  address = "${paths.containerdSocket}"

[ttrpc]
  address = "${paths.containerdSocket}.ttrpc"

[${cri}]
  sandbox_image = "${PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  # This host withholds CAP_SYS_RESOURCE, so runc cannot give pods the negative OOM score the
  # kubelet asks for (runc init dies with "can't get final child's PID from pipe"): clamp it.
  restrict_oom_score_adj = true
  enable_cdi = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "${join(paths.cni, 'net.d')}"

[${cri}.registry]
  config_path = "${hostsDir}"
`;
}

/** hosts.toml that sends every pull for `registry` to the local registry over plain HTTP on loopback. */
function hostsToml(): string {
  return `server = "http://${REGISTRY}"

[host."http://${REGISTRY}"]
  capabilities = ["pull", "resolve"]
`;
}

function cniConflist(): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: join(paths.cni, 'ipam'),
            ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP, rangeStart: POD_CIDR.replace(/0\/\d+$/, '10') }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
      ],
    },
    null,
    2,
  );
}

export async function writeContainerdConfig(): Promise<void> {
  await mkdir(paths.etc, { recursive: true });
  await mkdir(join(paths.cni, 'net.d'), { recursive: true });
  await writeFile(containerdConfigPath, containerdToml());
  await writeFile(join(paths.cni, 'net.d', `10-${CNI_NETWORK}.conflist`), cniConflist());
  // docker.io too, where a bare name (busybox) points, and v6.local, our images' prefix: a pull of
  // a missing image must still never leave the host (not even as a DNS lookup).
  for (const registry of [REGISTRY, 'docker.io', PAUSE_IMAGE.split('/')[0] ?? '']) {
    await mkdir(join(hostsDir, registry), { recursive: true });
    await writeFile(join(hostsDir, registry, 'hosts.toml'), hostsToml());
  }
}

export const criEndpoint = `unix://${paths.containerdSocket}`;

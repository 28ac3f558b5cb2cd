// containerd (Debian's 1.6) for the kubelet: its own socket, root and state under the state dir
// (network namespaces too), our CNI network on our bridge, a pause image we built, and registry
// hosts that resolve to the local registry only, so an image name can never cause a pull from
// anywhere else.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CNI_NETWORK, type NodeSpec, PAUSE_IMAGE, REGISTRY, paths } from './config.js';

const hostsDir = join(paths.containerd, 'certs.d');
const containerdDir = (node: NodeSpec) => join(paths.containerd, node.name);
const cniConfDir = (node: NodeSpec) => join(paths.cni, node.name, 'net.d');

export const containerdSocket = (node: NodeSpec) => join(containerdDir(node), 'containerd.sock');
export const criEndpoint = (node: NodeSpec) => `unix://${containerdSocket(node)}`;
export const containerdConfigPath = (node: NodeSpec) => join(paths.etc, `containerd-${node.name}.toml`);

/** containerd's TOML, written by hand: it is flat enough, and the project has no TOML library. */
function containerdToml(node: NodeSpec): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(containerdDir(node), 'root')}"
state = "${join(containerdDir(node), 'state')}"

[grpc]
  address = "${containerdSocket(node)}"

[ttrpc]
  address = "${containerdSocket(node)}.ttrpc"

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
  conf_dir = "${cniConfDir(node)}"

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

function cniConflist(node: NodeSpec): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: node.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: join(paths.cni, node.name, 'ipam'),
            ranges: [[{ subnet: node.podCidr, gateway: node.gateway, rangeStart: node.podCidr.replace(/0\/\d+$/, '10') }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
      ],
    },
    null,
    2,
  );
}

export async function writeContainerdConfig(node: NodeSpec): Promise<void> {
  await mkdir(paths.etc, { recursive: true });
  await mkdir(cniConfDir(node), { recursive: true });
  await writeFile(containerdConfigPath(node), containerdToml(node));
  await writeFile(join(cniConfDir(node), `10-${CNI_NETWORK}.conflist`), cniConflist(node));
  // docker.io too, where a bare name (busybox) points, and v6.local, our images' prefix: a pull of
  // a missing image must still never leave the host (not even as a DNS lookup).
  for (const registry of [REGISTRY, 'docker.io', PAUSE_IMAGE.split('/')[0] ?? '']) {
    await mkdir(join(hostsDir, registry), { recursive: true });
    await writeFile(join(hostsDir, registry, 'hosts.toml'), hostsToml());
  }
}

// Our node and upstream's vantage6-node 5.0.3 side by side on the real cluster, at one real hub:
// the hub (HQ 5.0.3 and Keycloak 26 on the bridge's address) with the fixtures' plain
// collaboration, whose nodes are our sites (hub-world.ts, the chart's hub values), and a second
// plain collaboration of the same two organizations whose nodes are upstream's (upstream-node.ts).
// Each organization's data is the same CSV at both kinds of node (world.ts AGES), and each kind
// puts Alpha's node on the first Kubernetes node and Beta's on the second.
import { randomBytes } from 'node:crypto';
import type { BuiltImage } from '../images/static-image.js';
import { NODE_COUNT, NODES } from '../lib/config.js';
import { pushImage } from '../lib/images.js';
import { COLLABORATIONS, type CollaborationFixture, type HubNode } from '../../v6-hub/fixtures.js';
import { startHubWorld, type HubWorld } from '../node/hub-world.js';
import type { NodeImages } from '../node/images.js';
import { AGES, csvOf } from '../node/world.js';
import { installUpstreamNode, upstreamHostDir, type UpstreamNode } from './upstream-node.js';
import { UPSTREAM_NODE_VERSION, upstreamNodeImage } from './upstream-node-image.js';

/** The collaboration whose nodes run upstream's node: `alpha-upstream`, `beta-upstream`. */
export const UPSTREAM_COLLABORATION: CollaborationFixture = { name: 'upstream-collaboration', encrypted: false, node: 'upstream' };
const OURS = COLLABORATIONS.find((c) => !c.encrypted)!;

export interface Beside {
  readonly world: HubWorld;
  /** The collaboration our nodes are in, and the one upstream's are in. */
  readonly collaborations: { ours: number; upstream: number };
  /** Upstream's nodes, by hub node id. */
  readonly upstream: Map<number, UpstreamNode>;
  /** The hub's nodes of a collaboration, Alpha's first. */
  nodesIn(collaboration: number): HubNode[];
  close(): Promise<void>;
}

export interface BesideOptions {
  /** Algorithm images by role, pushed and allowed (hub-world.ts). */
  algorithms: Record<string, Promise<BuiltImage>>;
  /** Values for our sites beyond the README's. */
  values?: (images: NodeImages) => Record<string, unknown>;
  /** Environment variables for upstream's node container beyond what it reads. */
  upstreamEnv?: Record<string, string>;
}

export async function startBeside(options: BesideOptions): Promise<Beside> {
  const ourCollaborationOf = (world: HubWorld) => world.hub.fixtures.collaborations.find((c) => c.name === OURS.name)!.id;
  const [world, image] = await Promise.all([
    startHubWorld({
      algorithms: options.algorithms,
      ...(options.values === undefined ? {} : { values: options.values }),
      collaborations: [OURS, UPSTREAM_COLLABORATION],
      sites: (node) => !node.name.endsWith(`-${UPSTREAM_COLLABORATION.node}`),
    }),
    pushImage(upstreamNodeImage(undefined, false), `vantage6-node:${UPSTREAM_NODE_VERSION}`),
  ]);
  const upstream = new Map<number, UpstreamNode>();
  const close = async () => {
    await Promise.all([...upstream.values()].map((node) => node.close()));
    await world.close();
  };
  try {
    const { hub } = world;
    const collaborations = {
      ours: ourCollaborationOf(world),
      upstream: hub.fixtures.collaborations.find((c) => c.name === UPSTREAM_COLLABORATION.name)!.id,
    };
    const organizations = hub.fixtures.organizations.map((o) => o.id);
    const nodesIn = (collaboration: number) =>
      hub.fixtures.nodes.filter((n) => n.collaboration_id === collaboration).sort((a, b) => organizations.indexOf(a.organization_id) - organizations.indexOf(b.organization_id));
    const hq = new URL(hub.url);
    const suffix = randomBytes(2).toString('hex');
    const installs = await Promise.allSettled(
      nodesIn(collaborations.upstream).map(async (node) => {
        const orgIndex = organizations.indexOf(node.organization_id);
        const namespace = `v6u-${node.name}-${suffix}`;
        upstream.set(
          node.id,
          await installUpstreamNode({
            namespace,
            nodeName: node.name,
            apiKey: node.client_secret,
            hq: { url: `${hq.protocol}//${hq.hostname}`, port: Number(hq.port), apiPath: hub.apiPath },
            keycloak: { url: hub.keycloakUrl, realm: hub.realm },
            image: image.reference,
            kubernetesNode: NODES[orgIndex % NODE_COUNT]!.name,
            hostDir: upstreamHostDir(namespace),
            csv: csvOf(AGES[orgIndex]!),
            ...(options.upstreamEnv === undefined ? {} : { env: options.upstreamEnv }),
          }),
        );
      }),
    );
    const failed = installs.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return { world, collaborations, upstream, nodesIn, close };
  } catch (error) {
    await close();
    throw error;
  }
}

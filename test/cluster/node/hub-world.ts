// The whole system against a vantage6 5 hub on the real cluster: the real hub (HQ 5.0.3 and
// Keycloak 26 with vantage6's realm, test/v6-hub/hub.ts) on the host where pods reach it (the
// cluster bridge's address), and for each of its four nodes (two organizations, a plain and an
// encrypted collaboration) a site installed with Helm and the chart's `hub` values, as world.ts
// installs them for a 4.x server (installSites): the node's Keycloak client secret in
// `node-credentials`, the organization's private key for the encrypted collaboration (the agent
// uploads its public key to the hub), the CSV on a claim, the algorithm images pushed and allowed;
// optionally the nodes' Keycloak tokens short-lived from their first login on.
import type { BuiltImage } from '../images/static-image.js';
import { NODE_IP } from '../lib/config.js';
import type { CodecKey } from '../../v6-server/codec.js';
import type { CollaborationFixture, HubNode } from '../../v6-hub/fixtures.js';
import { startRealHub, type RealHub } from '../../v6-hub/hub.js';
import type { KeycloakAdmin } from '../../v6-hub/keycloak-admin.js';
import { shortLivedNodeTokens } from '../../v6-hub/session-flow.js';
import { pushNodeImages, type NodeImages } from './images.js';
import type { Site } from './site.js';
import { installSites, type Sites } from './world.js';

export interface HubWorld {
  readonly hub: RealHub;
  readonly images: NodeImages;
  /** One site per hub node, by node id. */
  readonly sites: Map<number, Site>;
  /** Organization id → its key pair, the private key in a file (session_flow.py's in the encrypted collaboration). */
  readonly keys: Map<number, CodecKey>;
  /** Keycloak's admin API, recording the nodes' grants, when the nodes' tokens are short-lived. */
  readonly keycloakAdmin?: KeycloakAdmin;
  collaboration(encrypted: boolean): number;
  /** The hub's nodes of the plain or the encrypted collaboration. */
  nodesOf(encrypted: boolean): HubNode[];
  siteOf(node: HubNode): Site;
  close(): Promise<void>;
}

export interface HubWorldOptions {
  /** Algorithm images by role, pushed as REGISTRY/algorithms/<role>:1 and allowed at every site. */
  algorithms: Record<string, Promise<BuiltImage>>;
  /** Values for every site beyond the README's (given the pushed images). */
  values?: (images: NodeImages) => Record<string, unknown>;
  /** The hub's collaborations (default the fixtures' plain and encrypted one, in that order). */
  collaborations?: readonly CollaborationFixture[];
  /** Which of the hub's nodes get a site (default all): the others are left to another node's software. */
  sites?: (node: HubNode) => boolean;
  /** The nodes' access-token lifetime at Keycloak, set before the sites start (the realm's 300 s otherwise). */
  nodeTokenSeconds?: number;
}

/** Where pods reach a hub address: its IP and port. */
const reachedAt = (url: string) => ({ ip: new URL(url).hostname, port: Number(new URL(url).port) });

export async function startHubWorld(options: HubWorldOptions): Promise<HubWorld> {
  const [hub, images] = await Promise.all([startRealHub({ host: NODE_IP, collaborations: options.collaborations }), pushNodeImages(options.algorithms)]);
  let installed: Sites | undefined;
  const close = async () => {
    await installed?.close();
    await hub.close();
  };
  try {
    const { fixtures } = hub;
    const collaboration = (encrypted: boolean) => fixtures.collaborations.find((c) => c.encrypted === encrypted)!.id;
    const keycloakAdmin = options.nodeTokenSeconds === undefined ? undefined : await shortLivedNodeTokens(hub, options.nodeTokenSeconds);
    installed = await installSites({
      organizations: fixtures.organizations.map((o) => o.id),
      nodes: fixtures.nodes.filter(options.sites ?? (() => true)).map((node) => ({
        id: node.id,
        name: node.name,
        organizationId: node.organization_id,
        encrypted: fixtures.collaborations.some((c) => c.id === node.collaboration_id && c.encrypted),
        apiKey: node.client_secret,
      })),
      server: { ...reachedAt(hub.url), apiPath: hub.apiPath },
      keycloak: { ...reachedAt(hub.keycloakUrl), realm: hub.realm },
      images,
      ...(options.values === undefined ? {} : { values: options.values(images) }),
    });
    const { sites, keys } = installed;
    return {
      hub,
      images,
      sites,
      keys,
      ...(keycloakAdmin === undefined ? {} : { keycloakAdmin }),
      collaboration,
      nodesOf: (encrypted) => fixtures.nodes.filter((n) => n.collaboration_id === collaboration(encrypted)),
      siteOf: (node) => sites.get(node.id)!,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

// The whole system on the real cluster: the real vantage6 server on the host where pods reach it
// (the cluster bridge's address), and for each of its four nodes (two organizations, a plain and an
// encrypted collaboration) a site installed with Helm in a namespace of its own; Alpha's sites on
// the first Kubernetes node, Beta's on the second. A researcher of Alpha on the server's REST API.
// installSites is the part a vantage6 5 hub's world shares (hub-world.ts).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeFixture } from '../../dev-server/state/fixtures.js';
import { UserClient, type TaskJson } from '../../dev-server/user-client.js';
import { decodeResult, encodeInput, type CodecKey } from '../../v6-server/codec.js';
import { startRealServer, type RealServer } from '../../v6-server/server.js';
import type { BuiltImage } from '../images/static-image.js';
import { NODE_COUNT, NODE_IP, NODES } from '../lib/config.js';
import { pushNodeImages, type NodeImages } from './images.js';
import { installSite, type Site, type SiteOptions } from './site.js';

interface KeyPair {
  private_key_pem: string;
  public_key_str: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as { key_pairs: KeyPair[] };

/** Each organization's ages (column `age`): Alpha 20, 40, 60 and Beta 30, 50, so the mean of all five is 40. */
export const AGES: readonly (readonly number[])[] = [
  [20, 40, 60],
  [30, 50],
];
/** An organization's CSV database: columns `id` and `age`. */
export const csvOf = (ages: readonly number[]) => `id,age\n${ages.map((age, i) => `${i + 1},${age}`).join('\n')}\n`;

export interface NodeWorld {
  readonly server: RealServer;
  readonly images: NodeImages;
  /** One site per vantage6 node, by node id. */
  readonly sites: Map<number, Site>;
  readonly researcher: UserClient;
  /** Organization id → its key (for the researcher's encoding and decoding). */
  readonly keys: Map<number, CodecKey>;
  readonly alpha: number;
  readonly beta: number;
  collaboration(encrypted: boolean): number;
  nodeOf(organizationId: number, encrypted: boolean): NodeFixture;
  siteOf(organizationId: number, encrypted: boolean): Site;
  /** A task by Alpha's researcher for `organizations` (each the same input, encoded by vantage6's own code). */
  createTask(task: { encrypted: boolean; organizations: number[]; value: unknown; image: string; name: string }): Promise<TaskJson>;
  /** The result of the task's first run as vantage6's client reads it (decrypted with Alpha's key). */
  resultOf(taskId: number, encrypted: boolean): Promise<unknown>;
  close(): Promise<void>;
}

export interface NodeWorldOptions {
  /** Algorithm images by role; `refused` is pushed but left out of the sites' allowed algorithms. */
  algorithms: Record<string, Promise<BuiltImage>>;
  /** Values for every site beyond the README's (given the pushed images). */
  values?: (images: NodeImages) => Record<string, unknown>;
}

/** A vantage6 node (of a 4.x server or a 5 hub) as its site needs it. */
export interface SiteNode {
  id: number;
  name: string;
  organizationId: number;
  encrypted: boolean;
  /** What goes into the Secret `node-credentials`: the API key, or a 5 node's Keycloak client secret. */
  apiKey: string;
}

export interface Sites {
  /** One site per vantage6 node, by node id. */
  readonly sites: Map<number, Site>;
  /** Organization id → its key pair (the fixtures' vectors), its private key in a file. */
  readonly keys: Map<number, CodecKey>;
  /** Uninstalls every site and removes the key files. */
  close(): Promise<void>;
}

export interface SitesOptions {
  /** The organizations' ids: the first is Alpha (first Kubernetes node, AGES[0]), the second Beta. */
  organizations: number[];
  nodes: SiteNode[];
  /** The server as pods reach it; for a 5 hub, HQ. */
  server: SiteOptions['server'];
  /** For a 5 hub: its Keycloak as pods reach it (each site gets its node's name). */
  keycloak?: { ip: string; port: number; realm: string };
  images: NodeImages;
  /** Values for every site beyond the README's. */
  values?: Record<string, unknown>;
}

/**
 * A site per node, installed side by side: a release per organization (site-a, site-b) in a
 * namespace per node, Alpha's on the first Kubernetes node and Beta's on the second, each with its
 * organization's CSV, and the organization's private key for an encrypted collaboration.
 */
export async function installSites(options: SitesOptions): Promise<Sites> {
  const dir = await mkdtemp(join(tmpdir(), 'v6-node-sites-'));
  const sites = new Map<number, Site>();
  const close = async () => {
    await Promise.all([...sites.values()].map((site) => site.close()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const { organizations } = options;
    const keys = new Map<number, CodecKey>();
    const pems = new Map<number, string>();
    for (const [index, id] of organizations.entries()) {
      const pair = vectors.key_pairs[index]!;
      const privateKeyFile = join(dir, `org${id}-private.pem`);
      await writeFile(privateKeyFile, pair.private_key_pem, { mode: 0o600 });
      keys.set(id, { privateKeyFile, publicKey: pair.public_key_str });
      pems.set(id, pair.private_key_pem);
    }
    const suffix = randomBytes(2).toString('hex');
    // Settled, not all: a site that fails must not leave the others installing unseen by close().
    const installs = await Promise.allSettled(
      options.nodes.map(async (node) => {
        const orgIndex = organizations.indexOf(node.organizationId);
        const site = await installSite({
          release: orgIndex === 0 ? 'site-a' : 'site-b',
          namespace: `v6n-${node.name}-${suffix}`,
          apiKey: node.apiKey,
          ...(node.encrypted ? { privateKeyPem: pems.get(node.organizationId)! } : {}),
          server: options.server,
          ...(options.keycloak === undefined ? {} : { hub: { nodeName: node.name, keycloak: options.keycloak } }),
          images: options.images,
          kubernetesNode: NODES[orgIndex % NODE_COUNT]!.name,
          csv: csvOf(AGES[orgIndex]!),
          ...(options.values === undefined ? {} : { values: options.values }),
        });
        sites.set(node.id, site);
      }),
    );
    const failed = installs.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return { sites, keys, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export async function startNodeWorld(options: NodeWorldOptions): Promise<NodeWorld> {
  const [server, images] = await Promise.all([startRealServer({ host: NODE_IP }), pushNodeImages(options.algorithms)]);
  let installed: Sites | undefined;
  const close = async () => {
    await installed?.close();
    await server.close();
  };
  try {
    const { fixtures } = server;
    const organizations = fixtures.organizations.map((o) => o.id);
    const encryptedCollaboration = new Set(fixtures.collaborations.filter((c) => c.encrypted).map((c) => c.id));
    installed = await installSites({
      organizations,
      nodes: fixtures.nodes.map((node) => ({
        id: node.id,
        name: node.name,
        organizationId: node.organization_id,
        encrypted: encryptedCollaboration.has(node.collaboration_id),
        apiKey: node.api_key,
      })),
      server: { ip: NODE_IP, port: server.port, apiPath: server.apiPath },
      images,
      ...(options.values === undefined ? {} : { values: options.values(images) }),
    });
    const { sites, keys } = installed;
    const [alpha, beta] = organizations as [number, number];
    const user = fixtures.users.find((u) => u.organization_id === alpha)!;
    const researcher = new UserClient(`${server.url}${server.apiPath}`);
    await researcher.login(user.username, user.password);
    const collaboration = (encrypted: boolean) => fixtures.collaborations.find((c) => c.encrypted === encrypted)!.id;
    const nodeOf = (organizationId: number, encrypted: boolean) =>
      fixtures.nodes.find((n) => n.organization_id === organizationId && n.collaboration_id === collaboration(encrypted))!;
    return {
      server,
      images,
      sites,
      researcher,
      keys,
      alpha,
      beta,
      collaboration,
      nodeOf,
      siteOf: (organizationId, encrypted) => sites.get(nodeOf(organizationId, encrypted).id)!,
      createTask: async (task) => {
        const inputs = [];
        for (const id of task.organizations) {
          inputs.push({ id, input: await encodeInput(server.python, task.value, task.encrypted ? keys.get(id) : undefined) });
        }
        return researcher.createTask({ collaborationId: collaboration(task.encrypted), organizations: inputs, image: task.image, name: task.name, databases: [{ label: 'default' }] });
      },
      resultOf: async (taskId, encrypted) => {
        const [result] = await researcher.getResults(taskId);
        if (typeof result?.result !== 'string' || result.result === '') throw new Error(`task ${taskId} has no result: ${JSON.stringify(result)}`);
        return decodeResult(server.python, result.result, encrypted ? keys.get(alpha)!.privateKeyFile : undefined);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

// The hub's fixtures, made through HQ's REST API as an admin would: HQ's root user (the realm's
// admin user) logs in through Keycloak with the device authorization grant, as vantage6's Python
// client 5.0.3 does, and creates two organizations, a plain and an encrypted collaboration with
// a node of each organization in each, and researchers. HQ creates each node's Keycloak client
// (`<node name>-node-client`, a confidential client with a service account) and answers the
// node's creation with that client's secret as `api_key`, as for service-account users
// (`<username>-user-client`, the secret as `client_secret`).
import { deviceLogin } from './keycloak-auth.js';
import { HUB_ADMIN, PUBLIC_CLIENT } from './realm.js';

export interface HubOrganization {
  id: number;
  name: string;
}

export interface HubCollaboration {
  id: number;
  name: string;
  encrypted: boolean;
}

export interface HubNode {
  id: number;
  name: string;
  organization_id: number;
  collaboration_id: number;
  /** The node's Keycloak client: `<name>-node-client`, what vantage6's NodeClient asks a token for. */
  client_id: string;
  /** Its secret: what HQ answered as `api_key` when the node was made (the node's API key). */
  client_secret: string;
}

export interface HubUser {
  id: number;
  username: string;
  organization_id: number;
  /** A person's password, for the device login on the public client. */
  password?: string;
  /** A service account's Keycloak client (`<username>-user-client`) and secret, for the client-credentials grant. */
  client_id?: string;
  client_secret?: string;
}

export interface HubFixtures {
  organizations: HubOrganization[];
  collaborations: HubCollaboration[];
  nodes: HubNode[];
  /** One researcher (a person, with a password) per organization, then `researcher-script` of the first organization, a service account. */
  users: HubUser[];
}

/** An HQ REST client with a bearer token from Keycloak. */
export class HqClient {
  constructor(
    readonly apiBase: string,
    readonly token: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await fetch(`${this.apiBase}/${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`HQ answered ${method} /${path} with ${answer.status}: ${text.slice(0, 1000)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** Logs a person in through Keycloak's device flow on the public client and returns an HQ client with their token. */
export async function loginPerson(apiBase: string, keycloakUrl: string, realm: string, username: string, password: string): Promise<HqClient> {
  const token = await deviceLogin(keycloakUrl, realm, PUBLIC_CLIENT, username, password);
  return new HqClient(apiBase, token.access_token);
}

interface Page<T> {
  data: T[];
}

async function roleId(admin: HqClient, name: string): Promise<number> {
  const page = await admin.request<Page<{ id: number; name: string }>>('GET', `role?name=${encodeURIComponent(name)}`);
  const role = page.data.find((r) => r.name === name);
  if (!role) throw new Error(`HQ has no default role ${name}`);
  return role.id;
}

const ORGANIZATIONS = ['Alpha Hospital', 'Beta Clinic'];

/** A collaboration of both organizations, each with a node in it named `<organization>-<node>` (e.g. `alpha-plain`). */
export interface CollaborationFixture {
  name: string;
  encrypted: boolean;
  node: string;
}

/** The collaborations a hub has unless asked for others: a plain and an encrypted one. */
export const COLLABORATIONS: readonly CollaborationFixture[] = [
  { name: 'plain-collaboration', encrypted: false, node: 'plain' },
  { name: 'encrypted-collaboration', encrypted: true, node: 'encrypted' },
];

export async function createHubFixtures(
  apiBase: string,
  keycloakUrl: string,
  realm: string,
  collaborationFixtures: readonly CollaborationFixture[] = COLLABORATIONS,
): Promise<HubFixtures> {
  const admin = await loginPerson(apiBase, keycloakUrl, realm, HUB_ADMIN.username, HUB_ADMIN.password);

  const organizations: HubOrganization[] = [];
  for (const name of ORGANIZATIONS) {
    const created = await admin.request<{ id: number }>('POST', 'organization', { name });
    organizations.push({ id: created.id, name });
  }

  const collaborations: HubCollaboration[] = [];
  const nodes: HubNode[] = [];
  for (const wanted of collaborationFixtures) {
    const created = await admin.request<{ id: number }>('POST', 'collaboration', {
      name: wanted.name,
      encrypted: wanted.encrypted,
      organization_ids: organizations.map((o) => o.id),
    });
    collaborations.push({ id: created.id, name: wanted.name, encrypted: wanted.encrypted });
    for (const org of organizations) {
      const name = `${org.name.split(' ')[0]!.toLowerCase()}-${wanted.node}`;
      const node = await admin.request<{ id: number; api_key: string }>('POST', 'node', { name, organization_id: org.id, collaboration_id: created.id });
      nodes.push({ id: node.id, name, organization_id: org.id, collaboration_id: created.id, client_id: `${name}-node-client`, client_secret: node.api_key });
    }
  }

  const researcher = [await roleId(admin, 'Researcher')];
  const users: HubUser[] = [];
  for (const org of organizations) {
    const username = `researcher-${org.name.split(' ')[0]!.toLowerCase()}`;
    const password = `${username}-Pw1!`;
    const created = await admin.request<{ id: number }>('POST', 'user', {
      username,
      password,
      organization_id: org.id,
      roles: researcher,
    });
    // HQ gives a person a temporary password: their first login sets it (to the same one here)
    // and fills in the profile, so the fixture's password logs in without more questions.
    await deviceLogin(keycloakUrl, realm, PUBLIC_CLIENT, username, password);
    users.push({ id: created.id, username, organization_id: org.id, password });
  }
  const script = await admin.request<{ id: number; client_secret: string }>('POST', 'user', {
    username: 'researcher-script',
    is_service_account: true,
    organization_id: organizations[0]!.id,
    roles: researcher,
  });
  users.push({ id: script.id, username: 'researcher-script', organization_id: organizations[0]!.id, client_id: 'researcher-script-user-client', client_secret: script.client_secret });

  return { organizations, collaborations, nodes, users };
}

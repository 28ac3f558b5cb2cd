// The static world the development server starts with: organizations, collaborations, nodes,
// researchers and algorithm stores. Printed by main.ts as one JSON line.

export interface OrganizationFixture {
  id: number;
  name: string;
  /** base64 of the organization's PEM public key; null until a node uploads one. */
  public_key: string | null;
}

export interface CollaborationFixture {
  id: number;
  name: string;
  encrypted: boolean;
}

export interface NodeFixture {
  id: number;
  name: string;
  /** A UUID; what the node sends to `POST /token/node`. */
  api_key: string;
  organization_id: number;
  collaboration_id: number;
}

export interface UserFixture {
  id: number;
  username: string;
  password: string;
  organization_id: number;
}

export interface AlgorithmStoreFixture {
  id: number;
  name: string;
  url: string;
}

export interface Fixtures {
  organizations: OrganizationFixture[];
  collaborations: CollaborationFixture[];
  nodes: NodeFixture[];
  users: UserFixture[];
  algorithm_stores: AlgorithmStoreFixture[];
}

/**
 * Two organizations; collaboration 1 is unencrypted, collaboration 2 encrypted; each has a node
 * for both organizations (nodes 1, 2 in collaboration 1; nodes 3, 4 in collaboration 2); one
 * researcher per organization; one algorithm store.
 */
export function defaultFixtures(): Fixtures {
  return {
    organizations: [
      { id: 1, name: 'Alpha Hospital', public_key: null },
      { id: 2, name: 'Beta Clinic', public_key: null },
    ],
    collaborations: [
      { id: 1, name: 'plain-collaboration', encrypted: false },
      { id: 2, name: 'encrypted-collaboration', encrypted: true },
    ],
    nodes: [
      { id: 1, name: 'alpha-plain', api_key: '00000000-0000-4000-8000-000000000001', organization_id: 1, collaboration_id: 1 },
      { id: 2, name: 'beta-plain', api_key: '00000000-0000-4000-8000-000000000002', organization_id: 2, collaboration_id: 1 },
      { id: 3, name: 'alpha-encrypted', api_key: '00000000-0000-4000-8000-000000000003', organization_id: 1, collaboration_id: 2 },
      { id: 4, name: 'beta-encrypted', api_key: '00000000-0000-4000-8000-000000000004', organization_id: 2, collaboration_id: 2 },
    ],
    users: [
      { id: 1, username: 'researcher-alpha', password: 'alpha-password', organization_id: 1 },
      { id: 2, username: 'researcher-beta', password: 'beta-password', organization_id: 2 },
    ],
    algorithm_stores: [{ id: 1, name: 'community store', url: 'https://store.example.org' }],
  };
}

/** The organizations that take part in a collaboration: those with a node in it. */
export function collaborationOrganizationIds(fixtures: Fixtures, collaborationId: number): number[] {
  return [...new Set(fixtures.nodes.filter((n) => n.collaboration_id === collaborationId).map((n) => n.organization_id))];
}

// The real server's fixtures, made through its REST API as an admin would (the root user of the
// server's first start): the same world as the dev server's defaultFixtures(), with the ids the
// real server hands out.
import { UserClient } from '../dev-server/user-client.js';
import { defaultFixtures, type Fixtures, type NodeFixture, type UserFixture } from '../dev-server/state/fixtures.js';

/** What vantage6 4.x creates on its first start when no V6_INIT_SUPER_PASS_HASHED is set. */
export const ROOT_USER = { username: 'root', password: 'root' };

interface Page<T> {
  data: T[];
}

async function idOf(admin: UserClient, path: string): Promise<number> {
  const page = await admin.request<Page<{ id: number }>>('GET', path);
  const [first] = page.data;
  if (first === undefined) throw new Error(`the real server has nothing at ${path}`);
  return first.id;
}

/**
 * Researchers get the default Researcher role, plus sending socket events in their
 * collaborations, which `POST /kill/task` asks for and the Researcher role lacks.
 */
async function researcherGrants(admin: UserClient): Promise<{ roles: number[]; rules: number[] }> {
  return {
    roles: [await idOf(admin, 'role?name=Researcher')],
    rules: [await idOf(admin, 'rule?name=event&scope=col&operation=s')],
  };
}

/** The real server's passwords must have upper and lower case, a digit and a symbol. */
function strongPassword(password: string): string {
  return `${password}-V6`;
}

export async function createFixtures(apiBase: string): Promise<Fixtures> {
  const admin = new UserClient(apiBase);
  await admin.login(ROOT_USER.username, ROOT_USER.password);
  const wanted = defaultFixtures();

  const orgIds = new Map<number, number>();
  for (const org of wanted.organizations) {
    const created = await admin.request<{ id: number }>('POST', 'organization', { name: org.name });
    orgIds.set(org.id, created.id);
  }
  const orgId = (devId: number) => orgIds.get(devId)!;

  const collaborationIds = new Map<number, number>();
  for (const collaboration of wanted.collaborations) {
    const members = wanted.nodes.filter((n) => n.collaboration_id === collaboration.id).map((n) => orgId(n.organization_id));
    const created = await admin.request<{ id: number }>('POST', 'collaboration', {
      name: collaboration.name,
      encrypted: collaboration.encrypted,
      organization_ids: [...new Set(members)],
    });
    collaborationIds.set(collaboration.id, created.id);
  }

  const nodes: NodeFixture[] = [];
  for (const node of wanted.nodes) {
    const created = await admin.request<{ id: number; api_key: string }>('POST', 'node', {
      name: node.name,
      organization_id: orgId(node.organization_id),
      collaboration_id: collaborationIds.get(node.collaboration_id)!,
    });
    nodes.push({ ...node, id: created.id, api_key: created.api_key, organization_id: orgId(node.organization_id), collaboration_id: collaborationIds.get(node.collaboration_id)! });
  }

  const grants = await researcherGrants(admin);
  const users: UserFixture[] = [];
  for (const user of wanted.users) {
    const password = strongPassword(user.password);
    const created = await admin.request<{ id: number }>('POST', 'user', {
      username: user.username,
      email: `${user.username}@example.org`,
      firstname: user.username,
      lastname: 'Researcher',
      password,
      organization_id: orgId(user.organization_id),
      ...grants,
    });
    users.push({ id: created.id, username: user.username, password, organization_id: orgId(user.organization_id) });
  }

  return {
    organizations: wanted.organizations.map((org) => ({ ...org, id: orgId(org.id) })),
    collaborations: wanted.collaborations.map((c) => ({ ...c, id: collaborationIds.get(c.id)! })),
    nodes,
    users,
    algorithm_stores: [],
  };
}

// The fixture objects: node, organization (incl. public key upload), collaboration, algorithm store.
import type { ServerContext } from '../context.js';
import { canSeeCollaboration, collaborationsOf, FORBIDDEN } from '../auth/access.js';
import type { Identity } from '../auth/tokens.js';
import { HttpError, idParam, msg, objectBody, type ApiRequest, type Router } from '../http/router.js';
import { paginate } from '../http/pagination.js';
import { renderCollaboration, renderNode, renderOrganization, renderStore } from './views.js';

function visibleOrganizationIds(ctx: ServerContext, identity: Identity): Set<number> {
  const collaborations = collaborationsOf(ctx.state, identity);
  return new Set(
    ctx.state.fixtures.nodes.filter((n) => collaborations.includes(n.collaboration_id)).map((n) => n.organization_id),
  );
}

function ownOrganizationId(identity: Identity): number {
  switch (identity.kind) {
    case 'node':
      return identity.node.organization_id;
    case 'user':
      return identity.user.organization_id;
    case 'container':
      return identity.container.organization_id;
  }
}

export function registerEntityRoutes(router: Router, ctx: ServerContext): void {
  const { state } = ctx;
  const who = (request: ApiRequest): Identity => ctx.tokens.authenticate(request.raw.headers);

  router.add('GET', 'node/:id', (request) => {
    const identity = who(request);
    const node = state.node(idParam(request));
    if (!node) throw msg(404, `Node with id=${request.params.id} not found`);
    if (!canSeeCollaboration(state, identity, node.collaboration_id)) throw msg(401, FORBIDDEN);
    return { status: 200, body: renderNode(ctx, node) };
  });

  router.add('GET', 'organization', (request) => {
    const visible = visibleOrganizationIds(ctx, who(request));
    const name = request.query.get('name');
    const orgs = state.fixtures.organizations.filter((o) => visible.has(o.id) && (name === null || o.name === name));
    return paginate(request, orgs, (o) => renderOrganization(ctx, o));
  });

  router.add('GET', 'organization/:id', (request) => {
    const identity = who(request);
    const org = state.organization(idParam(request));
    if (!org) throw msg(404, `Organization with id=${request.params.id} not found`);
    if (!visibleOrganizationIds(ctx, identity).has(org.id)) throw msg(401, FORBIDDEN);
    return { status: 200, body: renderOrganization(ctx, org) };
  });

  router.add('PATCH', 'organization/:id', async (request) => {
    const identity = who(request);
    const org = state.organization(idParam(request));
    if (!org) throw msg(404, `Organization with id=${request.params.id} not found`);
    if (identity.kind === 'container' || ownOrganizationId(identity) !== org.id) throw msg(401, FORBIDDEN);
    const body = await objectBody(request);
    if (body.public_key !== undefined && typeof body.public_key !== 'string') {
      throw new HttpError(400, { msg: 'Request body is incorrect', errors: { public_key: ['Not a valid string.'] } });
    }
    if (typeof body.public_key === 'string') org.public_key = body.public_key;
    if (typeof body.name === 'string') org.name = body.name;
    return { status: 200, body: renderOrganization(ctx, org) };
  });

  router.add('GET', 'collaboration/:id', (request) => {
    const identity = who(request);
    const collab = state.fixtures.collaborations.find((c) => c.id === idParam(request));
    if (!collab) throw msg(404, `Collaboration with id=${request.params.id} does not exist`);
    if (!canSeeCollaboration(state, identity, collab.id)) throw msg(401, FORBIDDEN);
    return { status: 200, body: renderCollaboration(ctx, collab) };
  });

  router.add('GET', 'algorithmstore/:id', (request) => {
    who(request);
    const store = state.fixtures.algorithm_stores.find((s) => s.id === idParam(request));
    if (!store) throw msg(404, `Algorithm store with id=${request.params.id} not found`);
    return { status: 200, body: renderStore(store) };
  });
}

// /token/node, /token/user, /token/refresh, /token/container (spec A2, A6).
import type { ServerContext } from '../context.js';
import { requireNode } from '../auth/access.js';
import type { LoginIdentity } from '../auth/tokens.js';
import { hasFinished } from '../state/model.js';
import { HttpError, msg, objectBody, type Reply, type Router } from '../http/router.js';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function normaliseUuid(text: string): string {
  return text.replaceAll('-', '').toLowerCase();
}

function invalid(errors: Record<string, string[]>): HttpError {
  return new HttpError(400, { msg: 'Request body is incorrect', errors });
}

function loginReply(ctx: ServerContext, identity: LoginIdentity): Reply {
  const pair = ctx.tokens.issuePair(identity);
  const url = identity.kind === 'node' ? { node_url: `${ctx.apiPath}/node/${identity.node.id}` } : { user_url: `${ctx.apiPath}/user/${identity.user.id}` };
  return {
    status: 200,
    body: { ...pair, refresh_url: `${ctx.apiPath}/token/refresh`, ...url },
    headers: { 'jwt-token': pair.access_token },
  };
}

export function registerTokenRoutes(router: Router, ctx: ServerContext): void {
  router.add('POST', 'token/node', async (request) => {
    const body = await objectBody(request);
    const apiKey = body.api_key;
    if (apiKey === undefined) throw invalid({ api_key: ['Missing data for required field.'] });
    if (typeof apiKey !== 'string' || !UUID.test(apiKey)) throw invalid({ api_key: ['API key is not a valid UUID'] });
    const node = ctx.state.fixtures.nodes.find((n) => normaliseUuid(n.api_key) === normaliseUuid(apiKey));
    if (!node) throw msg(401, 'Api key is not recognized!');
    return loginReply(ctx, { kind: 'node', node });
  });

  router.add('POST', 'token/user', async (request) => {
    const body = await objectBody(request);
    const errors: Record<string, string[]> = {};
    for (const field of ['username', 'password']) {
      if (typeof body[field] !== 'string') errors[field] = ['Missing data for required field.'];
    }
    if (Object.keys(errors).length > 0) throw invalid(errors);
    const user = ctx.state.fixtures.users.find((u) => u.username === body.username && u.password === body.password);
    if (!user) throw msg(401, 'Invalid username or password!');
    return loginReply(ctx, { kind: 'user', user });
  });

  router.add('POST', 'token/refresh', (request) => {
    const identity = ctx.tokens.authenticate(request.raw.headers, 'refresh');
    if (identity.kind === 'container') throw msg(401, 'Containers cannot refresh their token');
    return loginReply(ctx, identity);
  });

  router.add('POST', 'token/container', async (request) => {
    const node = requireNode(ctx.tokens.authenticate(request.raw.headers));
    const body = await objectBody(request);
    const taskId = body.task_id;
    const task = typeof taskId === 'number' ? ctx.state.tasks.get(taskId) : undefined;
    if (!task) throw msg(400, 'Parent task does not exist!');
    if (body.image !== task.image) throw msg(401, 'Image and task do no match');
    if (node.collaboration_id !== task.collaboration_id) throw msg(401, 'You are not within the collaboration');
    if (hasFinished(ctx.state.taskStatus(task.id))) throw msg(400, 'Task is already finished!');
    const token = ctx.tokens.issueContainer({
      client_type: 'container',
      node_id: node.id,
      organization_id: node.organization_id,
      collaboration_id: node.collaboration_id,
      study_id: null,
      store_id: task.algorithm_store_id,
      task_id: task.id,
      image: task.image,
      databases: task.databases.map((d) => ({ label: d.label, ...(JSON.parse(d.parameters) as Record<string, unknown>) })),
    });
    return { status: 200, body: { container_token: token } };
  });
}

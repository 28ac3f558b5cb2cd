// /kill/task and /kill/node/tasks: researchers stop runs; nodes hear it as `kill_containers`.
import type { ServerContext } from '../context.js';
import { canSeeCollaboration, FORBIDDEN } from '../auth/access.js';
import { hasFinished } from '../state/model.js';
import { HttpError, msg, objectBody, type ApiRequest, type Router } from '../http/router.js';

async function idFromBody(request: ApiRequest): Promise<number> {
  const body = await objectBody(request);
  if (!Number.isInteger(body.id)) {
    throw new HttpError(400, { msg: 'Request body is incorrect', errors: { id: ['Missing data for required field.'] } });
  }
  return body.id as number;
}

export function registerKillRoutes(router: Router, ctx: ServerContext): void {
  const { state } = ctx;

  router.add('POST', 'kill/task', async (request) => {
    const identity = ctx.tokens.authenticate(request.raw.headers);
    if (identity.kind !== 'user') throw msg(401, FORBIDDEN);
    const id = await idFromBody(request);
    const task = state.tasks.get(id);
    if (!task) throw msg(404, `Task id=${id} not found`);
    if (!canSeeCollaboration(state, identity, task.collaboration_id)) throw msg(401, FORBIDDEN);
    const status = state.taskStatus(id);
    if (hasFinished(status)) throw msg(400, `Task ${id} already finished with status '${status}', so cannot kill it!`);
    const killList = state.killTask(id);
    ctx.emit(`collaboration_${task.collaboration_id}`, 'kill_containers', {
      kill_list: killList,
      collaboration_id: task.collaboration_id,
    });
    return { status: 200, body: { msg: `Nodes have been instructed to kill any containers running for task ${id}.` } };
  });

  router.add('POST', 'kill/node/tasks', async (request) => {
    const identity = ctx.tokens.authenticate(request.raw.headers);
    if (identity.kind !== 'user') throw msg(401, FORBIDDEN);
    const id = await idFromBody(request);
    const node = state.node(id);
    if (!node) throw msg(404, `Node id=${id} not found`);
    if (!canSeeCollaboration(state, identity, node.collaboration_id)) throw msg(401, FORBIDDEN);
    ctx.emit(`collaboration_${node.collaboration_id}`, 'kill_containers', {
      node_id: node.id,
      collaboration_id: node.collaboration_id,
    });
    return { status: 200, body: { msg: `Nodes have been instructed to kill any containers running on node ${id}.` } };
  });
}

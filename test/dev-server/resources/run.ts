// /run (paged list), /run/<id>, and the node's PATCH /run/<id> with the 4.x semantics (spec A6).
import type { ServerContext } from '../context.js';
import { canSeeRun, FORBIDDEN, requireNode } from '../auth/access.js';
import { DatetimeFormatError, isIsoDatetime, parseServerDatetime } from '../state/datetime.js';
import { isRunStatus, RUN_STATUSES, type RunPatch, type RunRecord } from '../state/model.js';
import { HttpError, idParam, INTERNAL_ERROR_BODY, msg, type ApiRequest, type Router } from '../http/router.js';
import { paginate } from '../http/pagination.js';
import { renderRun } from './views.js';

const INTERNAL_ERROR = new HttpError(500, INTERNAL_ERROR_BODY);

function includes(request: ApiRequest, what: string): boolean {
  return request.query.getAll('include').flatMap((v) => v.split(',')).includes(what);
}

function numberParam(request: ApiRequest, name: string): number | null {
  const value = request.query.get(name);
  return value === null ? null : Number(value);
}

/** marshmallow's partial load of RunInputSchema: the field errors, empty when valid. */
function validatePatch(body: unknown): Record<string, string[]> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { _schema: ['Invalid input type.'] };
  const errors: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === null) errors[key] = ['Field may not be null.'];
    else if (key === 'started_at' || key === 'finished_at') {
      if (typeof value !== 'string' || !isIsoDatetime(value)) errors[key] = ['Not a valid datetime.'];
    } else if (key === 'log' || key === 'result') {
      if (typeof value !== 'string') errors[key] = ['Not a valid string.'];
    } else if (key === 'status') {
      if (!isRunStatus(value)) errors[key] = [`Must be one of: ${RUN_STATUSES.join(', ')}.`];
    } else errors[key] = ['Unknown field.'];
  }
  return errors;
}

/** The run `:id` names, if the caller may see it (also used for /result/<id>). */
export function visibleRun(ctx: ServerContext, request: ApiRequest): RunRecord {
  const identity = ctx.tokens.authenticate(request.raw.headers);
  const run = ctx.state.runs.get(idParam(request));
  if (!run) throw msg(404, `Run id=${request.params.id} not found!`);
  if (!canSeeRun(ctx.state, identity, run)) throw msg(401, FORBIDDEN);
  return run;
}

export function registerRunRoutes(router: Router, ctx: ServerContext): void {
  const { state } = ctx;

  router.add('GET', 'run', (request) => {
    const identity = ctx.tokens.authenticate(request.raw.headers);
    const taskId = numberParam(request, 'task_id');
    const nodeId = numberParam(request, 'node_id');
    const orgId = numberParam(request, 'organization_id');
    const open = request.query.get('state') === 'open';
    const runs = [...state.runs.values()].filter(
      (run) =>
        canSeeRun(state, identity, run) &&
        (taskId === null || run.task_id === taskId) &&
        (orgId === null || run.organization_id === orgId) &&
        (nodeId === null || state.nodeOfRun(run)?.id === nodeId) &&
        (!open || run.finished_at === null),
    );
    return paginate(request, runs, (run) => renderRun(ctx, run, includes(request, 'task')));
  });

  router.add('GET', 'run/:id', (request) => ({
    status: 200,
    body: renderRun(ctx, visibleRun(ctx, request), includes(request, 'task')),
  }));

  router.add('PATCH', 'run/:id', async (request) => {
    const node = requireNode(ctx.tokens.authenticate(request.raw.headers));
    const body = await request.json();
    const record = { run_id: idParam(request), node_id: node.id, body, status: 200 };
    state.patches.push(record);
    try {
      const run = state.runs.get(record.run_id);
      if (!run) throw msg(404, `Run id=${record.run_id} not found!`);
      const errors = validatePatch(body);
      if (Object.keys(errors).length > 0) throw new HttpError(400, { msg: 'Request body is incorrect', errors });
      if (run.organization_id !== node.organization_id) throw msg(401, 'This is not your algorithm run to PATCH!');
      if (run.finished_at !== null) throw msg(400, 'Cannot update an already finished algorithm run!');
      // Before the body is applied, as the real server does: a PATCH that then fails on its
      // timestamps (500) has still announced a status update.
      const task = state.tasks.get(run.task_id);
      ctx.emit(`collaboration_${task?.collaboration_id}`, 'status_update', { run_id: run.id });
      const given = body as RunPatch;
      const patch: RunPatch = {
        ...given,
        started_at: given.started_at === undefined ? undefined : parseServerDatetime(given.started_at),
        finished_at: given.finished_at === undefined ? undefined : parseServerDatetime(given.finished_at),
      };
      state.patchRun(run, patch);
      return { status: 200, body: renderRun(ctx, run, false) };
    } catch (error) {
      const answer = error instanceof DatetimeFormatError ? INTERNAL_ERROR : error;
      if (answer instanceof HttpError) record.status = answer.status;
      throw answer;
    }
  });
}

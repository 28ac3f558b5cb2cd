// /result?task_id= and /result/<id>: the runs' results (the proxy decrypts these for algorithms).
import type { ServerContext } from '../context.js';
import { canSeeRun } from '../auth/access.js';
import type { Router } from '../http/router.js';
import { paginate } from '../http/pagination.js';
import { visibleRun } from './run.js';
import { renderResult } from './views.js';

export function registerResultRoutes(router: Router, ctx: ServerContext): void {
  router.add('GET', 'result', (request) => {
    const identity = ctx.tokens.authenticate(request.raw.headers);
    const taskId = request.query.get('task_id');
    const runs = [...ctx.state.runs.values()].filter(
      (run) => canSeeRun(ctx.state, identity, run) && (taskId === null || run.task_id === Number(taskId)),
    );
    return paginate(request, runs, (run) => renderResult(ctx, run));
  });

  router.add('GET', 'result/:id', (request) => ({ status: 200, body: renderResult(ctx, visibleRun(ctx, request)) }));
}

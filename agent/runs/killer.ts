import { LabelKey, runIdOf, runObjectName } from '../kube/names.js';
import { RunStatus } from '../protocol/run-status.js';
import type { KillContainersEvent } from '../server/socket.js';
import type { RunContext } from './context.js';

/** The run log of a run the node stopped on request. */
export const KILLED_REASON = 'The run was killed at the request of a user.';

/**
 * Handles `kill_containers` (both payload forms, spec A6): every targeted run of this node is
 * stopped wherever it is — queued, being created, running — and reported `killed by user`.
 * A durable marker makes a launch that races with the kill undo what it created.
 */
export class Killer {
  constructor(private readonly ctx: RunContext) {}

  async handle(event: KillContainersEvent): Promise<void> {
    const { identity, logger } = this.ctx;
    if (event.collaboration_id !== undefined && event.collaboration_id !== identity.collaborationId) return;
    if (event.node_id !== undefined && event.node_id !== identity.nodeId) return;
    const targets = event.kill_list
      ? event.kill_list
          .filter((entry) => entry.organization_id === identity.organizationId)
          .map((entry) => ({ runId: entry.run_id, taskId: entry.task_id }))
      : await this.everyRun();
    // Every target is marked first: stopping one run frees a slot under the cap, and a launch of
    // another target must already see its own kill then.
    const marked = [];
    for (const target of targets) {
      try {
        await this.ctx.markers.markKilled(target.runId);
        await this.ctx.liveTokens.revoke(target.runId);
        marked.push(target);
      } catch (error) {
        logger.error({ runId: target.runId, err: error }, 'could not kill run');
      }
    }
    for (const target of marked) {
      try {
        await this.stop(target.runId, target.taskId);
      } catch (error) {
        logger.error({ runId: target.runId, err: error }, 'could not kill run');
      }
    }
  }

  /** Stops a run marked killed: out of the queue, out of the cluster, reported `killed by user`. */
  private async stop(runId: number, taskId: number): Promise<void> {
    const { ctx } = this;
    const dequeued = await ctx.queues.removeQueuedLaunch(runId);
    await ctx.objects.deleteRunObjects(runObjectName(ctx.identity.nodeId, runId));
    await ctx.queues.enqueueReport({ runId, taskId, status: RunStatus.Killed, reason: KILLED_REASON });
    ctx.logger.info({ runId, taskId, dequeued }, 'Killed run');
  }

  /** Every run this node has: Jobs in the cluster and launches still queued. */
  private async everyRun(): Promise<Array<{ runId: number; taskId: number }>> {
    const runs = new Map<number, number>();
    for (const job of this.ctx.informer.allJobs()) {
      const runId = runIdOf(job.metadata?.labels);
      if (runId !== undefined) runs.set(runId, Number(job.metadata?.labels?.[LabelKey.TaskId] ?? 0));
    }
    for (const job of await this.ctx.queues.launch.getJobs(['waiting', 'delayed', 'prioritized', 'active'])) {
      // A job queued for another server names a run of that server (queue/server-scope.ts).
      if (job && (job.data.server ?? this.ctx.queues.scope) === this.ctx.queues.scope) runs.set(job.data.runId, job.data.taskId);
    }
    return [...runs].map(([runId, taskId]) => ({ runId, taskId }));
  }
}

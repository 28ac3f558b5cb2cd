import type { RunsApi } from '../server/runs-api.js';
import type { RunQueues } from '../../queue/run-queues.js';
import type { Logger } from 'pino';

/**
 * Puts this node's open runs into the launch queue: all of them on `sync`, a task's on
 * `new_task`. The queue dedupes by server and run id, so receiving a run twice queues it once;
 * an open run whose launch job is finished is queued again, so that the launcher reconciles it
 * from what the server says (a re-created server reuses run ids). A failed fetch is tried again
 * after a delay as a full sync, which covers whatever was missed.
 */
export class Intake {
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly runs: RunsApi,
    private readonly queues: RunQueues,
    private readonly logger: Logger,
    private readonly retryDelayMs = 5_000,
  ) {}

  /** Fetches and queues open runs; resolves with how many were new. Never rejects. */
  async take(taskId?: number): Promise<number> {
    try {
      const open = await this.runs.openRuns(taskId);
      let added = 0;
      let relooked = 0;
      for (const run of open) {
        const outcome = await this.queues.enqueueLaunch({ runId: run.id, taskId: run.task.id });
        if (outcome === 'requeued') relooked += 1;
        else if (outcome !== 'exists') added += 1;
      }
      this.logger.info({ taskId, open: open.length, queued: added, relooked }, 'synced open runs');
      return added;
    } catch (error) {
      this.logger.warn({ taskId, err: error }, 'could not fetch open runs; syncing again later');
      this.retryLater();
      return 0;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.take();
    }, this.retryDelayMs);
  }
}

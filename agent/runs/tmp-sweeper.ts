// Removes the temporary folders of jobs this node no longer runs. A job's folder (`tmp/job-<id>`)
// is shared by all its runs on the node, so it stays while any Job or pod of that job exists; it
// goes once none does (asked of the cache, then confirmed with the API server: a stale cache must
// not take a running algorithm's folder) and it has not been prepared for a run in the last
// `graceMs` (a run prepares the folder before its Job exists). Level-triggered: each sweep reads
// the task volume and the cluster as they are, whatever happened before.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RunInformer } from '../cluster/run-informer.js';
import type { RunObjects } from '../cluster/run-objects.js';
import { LabelKey, nodeSelector } from '../kube/names.js';
import { agentTmpRoot } from '../kube/paths.js';
import { Periodic } from './periodic.js';

export interface TmpSweeperOptions {
  readonly mountPath: string;
  readonly nodeId: number;
  readonly informer: Pick<RunInformer, 'holdsJob'>;
  readonly objects: Pick<RunObjects, 'anyMatching'>;
  readonly logger: Logger;
  /** How long a folder stays after its last preparation, and how often the sweep runs. */
  readonly graceMs: number;
  readonly now?: () => number;
}

const JOB_FOLDER = /^job-(\d+)$/;

export class TmpSweeper {
  private readonly periodic: Periodic;
  private closed = false;

  constructor(private readonly options: TmpSweeperOptions) {
    this.periodic = new Periodic(() => this.sweep(), {
      intervalMs: options.graceMs,
      logger: options.logger,
      failure: 'sweeping temporary folders failed; trying again later',
      immediately: true,
    });
  }

  start(): void {
    this.periodic.start();
  }

  /** One pass over the temporary folders: removes those of jobs with nothing left in the cluster. */
  async sweep(): Promise<void> {
    const { mountPath, nodeId, informer, objects, logger, graceMs } = this.options;
    const now = this.options.now ?? Date.now;
    const root = agentTmpRoot(mountPath);
    const entries = await readdir(root).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    });
    for (const entry of entries) {
      const match = JOB_FOLDER.exec(entry);
      if (match === null || this.closed) continue;
      const jobId = Number(match[1]);
      const path = join(root, entry);
      // ctime: the run's preparation sets the folder's mode, whatever else happened in it.
      if (now() - (await lstat(path)).ctimeMs < graceMs) continue;
      if (informer.holdsJob(jobId)) continue;
      if (await objects.anyMatching(`${nodeSelector(nodeId)},${LabelKey.JobId}=${jobId}`)) continue;
      await rm(path, { recursive: true, force: true });
      logger.info({ jobId }, 'Removed the temporary folder of a job with no run left on this node');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.periodic.close();
  }
}

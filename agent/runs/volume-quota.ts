// A bound on what one run writes to the task volume, which every run of the node shares: its run
// folder plus its job's temporary folder, sampled every few seconds while the run's Job is alive.
// A run over `kubernetes.run.max_volume_bytes` (or with more files than MAX_ENTRIES) is stopped:
// it is reported `failed` with a log that says so, and the report's cleanup deletes its Job and
// files. Kubernetes bounds emptyDir and the container's own layer (ephemeral-storage), not a
// PersistentVolumeClaim; this is the node's quota on the claim. An algorithm can exceed it by what
// it writes in one interval.
import type { Logger } from 'pino';
import type { RunInformer } from '../cluster/run-informer.js';
import { LabelKey } from '../kube/names.js';
import { agentJobTmpFolder, agentRunFolder } from '../kube/paths.js';
import { RunStatus } from '../protocol/run-status.js';
import type { RunQueues } from '../../queue/run-queues.js';
import { isJobFinished } from './capacity.js';
import { diskUsage, type DiskUsage } from './disk-usage.js';
import { Periodic } from './periodic.js';

/** More files than this in a run's folders counts as over quota (an inode flood). */
export const MAX_ENTRIES = 100_000;

export interface VolumeQuotaOptions {
  readonly mountPath: string;
  readonly maxBytes: number;
  readonly informer: Pick<RunInformer, 'allJobs'>;
  readonly queues: Pick<RunQueues, 'enqueueReport'>;
  readonly logger: Logger;
  readonly intervalMs: number;
}

/** Why a run is over its quota, or undefined. */
export function overQuota(usage: DiskUsage, maxBytes: number): string | undefined {
  if (usage.truncated) {
    return `The run made more than ${MAX_ENTRIES} files and folders on the task volume (its run folder and its job's temporary folder); the node stopped it.`;
  }
  if (usage.bytes > maxBytes) {
    return `The run wrote ${usage.bytes} bytes to the task volume (its run folder and its job's temporary folder), more than kubernetes.run.max_volume_bytes = ${maxBytes}; the node stopped it.`;
  }
  return undefined;
}

export class VolumeQuota {
  private readonly periodic: Periodic;
  private closed = false;

  constructor(private readonly options: VolumeQuotaOptions) {
    this.periodic = new Periodic(() => this.check(), {
      intervalMs: options.intervalMs,
      logger: options.logger,
      failure: 'checking run folder usage failed; trying again later',
    });
  }

  start(): void {
    this.periodic.start();
  }

  /** One pass over the live Jobs of this node; each over quota gets its failing report. */
  async check(): Promise<void> {
    const { mountPath, maxBytes, informer, queues, logger } = this.options;
    const jobUsage = new Map<number, Promise<DiskUsage>>();
    for (const job of informer.allJobs()) {
      if (this.closed) return;
      const labels = job.metadata?.labels ?? {};
      const runId = Number(labels[LabelKey.RunId]);
      const taskId = Number(labels[LabelKey.TaskId]);
      const jobId = Number(labels[LabelKey.JobId]);
      if (!Number.isInteger(runId) || !Number.isInteger(jobId) || isJobFinished(job)) continue;
      if (!jobUsage.has(jobId)) jobUsage.set(jobId, diskUsage(agentJobTmpFolder(mountPath, jobId), MAX_ENTRIES));
      const tmp = await jobUsage.get(jobId)!;
      const own = await diskUsage(agentRunFolder(mountPath, runId), MAX_ENTRIES - tmp.entries);
      const reason = overQuota({ bytes: tmp.bytes + own.bytes, entries: tmp.entries + own.entries, truncated: tmp.truncated || own.truncated }, maxBytes);
      if (reason === undefined) continue;
      if ((await queues.enqueueReport({ runId, taskId, status: RunStatus.Failed, reason })) === 'added') {
        logger.warn({ runId, taskId, bytes: tmp.bytes + own.bytes, limit: maxBytes }, 'run is over its quota on the task volume; stopping it');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.periodic.close();
  }
}

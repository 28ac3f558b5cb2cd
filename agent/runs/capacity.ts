import type { V1Job } from '@kubernetes/client-node';
import type { RunInformer } from '../cluster/run-informer.js';
import { runIdOf } from '../kube/names.js';

/** Whether a Job has finished (a `Complete` or `Failed` condition). */
export function isJobFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** An expectation the informer never confirms (the Job was deleted at once) lapses after this, as in kube-controller-manager. */
const EXPECTATION_TTL_MS = 5 * 60_000;

/**
 * The cap on this node's Jobs alive in the cluster (`queue.max_active_jobs`). It counts what the
 * informer sees plus the Jobs about to be created or created but not yet seen ("expectations",
 * as Kubernetes controllers keep them). A launch reserves its slot before it creates anything,
 * in the same synchronous step as the check, so neither a lagging cache nor concurrent launches
 * can overshoot the cap.
 */
export class JobCapacity {
  private readonly expected = new Map<string, number>();

  constructor(
    private readonly informer: RunInformer,
    readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a slot for the Job `name` if one is free; false when the cap is reached. */
  reserve(name: string): boolean {
    if (this.alive() >= this.max) return false;
    this.expected.set(name, this.now() + EXPECTATION_TTL_MS);
    return true;
  }

  /** Gives back a reserved slot whose Job was not created. */
  release(name: string): void {
    this.expected.delete(name);
  }

  /** The informer has seen the Job (created or already deleted): the expectation is met. */
  observed(name: string): void {
    this.expected.delete(name);
  }

  /** How many of this node's Jobs are alive now. */
  alive(): number {
    const alive = new Set<string>();
    for (const job of this.informer.allJobs()) {
      // Only runs count: the isolation probe's Job is the node's own, not an algorithm's.
      if (runIdOf(job.metadata?.labels) === undefined) continue;
      const name = job.metadata?.name ?? '';
      this.expected.delete(name);
      if (!isJobFinished(job)) alive.add(name);
    }
    for (const [name, expiresAt] of this.expected) {
      if (expiresAt < this.now()) this.expected.delete(name);
      else alive.add(name);
    }
    return alive.size;
  }
}

// The TTL-after-finished controller: deletes a finished Job `ttlSecondsAfterFinished` after it
// finished, with Background propagation so its pods are garbage-collected. Level-triggered; the
// expiry is re-checked at the exact time it falls due.
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import { systemClock, type Clock } from './clock.js';
import { isJobFinished } from './job-sync.js';
import type { Store } from './store.js';
import { WorkQueue } from './work-queue.js';

export interface TtlControllerOptions {
  clock?: Clock;
  onError?: (key: string, error: unknown) => void;
}

/** When a finished Job expires (ms since the epoch), or undefined when it never does (yet). */
export function jobExpiresAt(job: IJob): number | undefined {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  if (ttl === undefined || !isJobFinished(job)) return undefined;
  const finished = (job.status?.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  const at = Date.parse(job.status?.completionTime ?? finished?.lastTransitionTime ?? '');
  return Number.isNaN(at) ? undefined : at + ttl * 1000;
}

export class TtlAfterFinishedController {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #queue: WorkQueue;
  readonly #unsubscribe: () => void;

  constructor(store: Store, options: TtlControllerOptions = {}) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#queue = new WorkQueue(async (key) => this.#sync(key), {
      clock: this.#clock,
      ...(options.onError ? { onError: options.onError } : {}),
    });
    this.#unsubscribe = store.on((event) => {
      if (event.plural === 'jobs' && event.type !== 'DELETED') this.#queue.add(`${event.object.metadata.namespace}/${event.object.metadata.name}`);
    });
    for (const job of store.list('jobs')) this.#queue.add(`${job.metadata.namespace}/${job.metadata.name}`);
  }

  /** Stops watching and cancels pending expiries. Idempotent. */
  async close(): Promise<void> {
    this.#unsubscribe();
    await this.#queue.close();
  }

  #sync(key: string): void {
    const [namespace, name] = key.split('/') as [string, string];
    const job = this.#store.get('jobs', namespace, name);
    if (job === undefined) return;
    const expiresAt = jobExpiresAt(job as unknown as IJob);
    if (expiresAt === undefined) return;
    const wait = expiresAt - this.#clock.now();
    if (wait > 0) {
      this.#queue.addAfter(key, wait);
      return;
    }
    this.#store.delete('jobs', namespace, name, { propagationPolicy: 'Background', preconditions: { uid: job.metadata.uid! } });
  }
}

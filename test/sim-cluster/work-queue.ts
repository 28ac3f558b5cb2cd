// A rate-limited work queue of object keys, as client-go's workqueue: a key waits at most once,
// is handled by one sync at a time, and a key added while its sync runs is synced again after.
// Failed syncs retry with per-key exponential backoff; `addAfter` schedules a re-check.

import { systemClock, type Clock } from './clock.js';

export interface WorkQueueOptions {
  clock?: Clock;
  /** First retry delay after a failed sync; doubles per consecutive failure. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Called with each failed sync's error (the key is retried). */
  onError?: (key: string, error: unknown) => void;
}

export class WorkQueue {
  readonly #sync: (key: string) => Promise<void>;
  readonly #clock: Clock;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #onError: (key: string, error: unknown) => void;
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  readonly #dirtyWhileRunning = new Set<string>();
  readonly #scheduled = new Map<string, { at: number; handle: unknown }>();
  readonly #failures = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(sync: (key: string) => Promise<void>, options: WorkQueueOptions = {}) {
    this.#sync = sync;
    this.#clock = options.clock ?? systemClock;
    this.#retryBaseMs = options.retryBaseMs ?? 50;
    this.#retryMaxMs = options.retryMaxMs ?? 5_000;
    this.#onError = options.onError ?? (() => {});
  }

  /** Enqueues the key for a sync as soon as possible. */
  add(key: string): void {
    if (this.#closed) return;
    if (this.#running.has(key)) {
      this.#dirtyWhileRunning.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    queueMicrotask(() => this.#start(key));
  }

  /** Enqueues the key once `delayMs` has passed; an earlier pending schedule for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#closed) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + delayMs;
    const pending = this.#scheduled.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.#clock.clearTimeout(pending.handle);
    const handle = this.#clock.setTimeout(() => {
      this.#scheduled.delete(key);
      this.add(key);
    }, delayMs);
    this.#scheduled.set(key, { at, handle });
  }

  /** Stops accepting keys, cancels schedules and waits for running syncs. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const { handle } of this.#scheduled.values()) this.#clock.clearTimeout(handle);
    this.#scheduled.clear();
    this.#queued.clear();
    this.#dirtyWhileRunning.clear();
    await Promise.all([...this.#inFlight]);
  }

  #start(key: string): void {
    if (!this.#queued.delete(key) || this.#closed) return;
    this.#running.add(key);
    const run = this.#sync(key).then(
      () => {
        this.#failures.delete(key);
      },
      (error: unknown) => {
        const failures = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, failures);
        this.#onError(key, error);
        this.addAfter(key, Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (failures - 1)));
      },
    ).finally(() => {
      this.#running.delete(key);
      this.#inFlight.delete(run);
      if (this.#dirtyWhileRunning.delete(key)) this.add(key);
    });
    this.#inFlight.add(run);
  }
}

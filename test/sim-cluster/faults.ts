// Fault injection for the simulated API server, configurable at start and at runtime.
import { resourceType, resourceTypeOfKind } from './resources.js';

export interface FaultSettings {
  /** Fraction (0..1) of resource requests answered 500 InternalError; discovery is spared. */
  errorRate: number;
  /** Seed of the PRNG that decides which requests fail; setting it restarts the sequence. */
  seed: number;
  /** Drop (destroy) every open watch connection every this many ms; 0 = never. */
  dropWatchesEveryMs: number;
  /** The next this many watches resuming from a resourceVersion get 410 Expired. */
  expireWatches: number;
  /**
   * Per plural ('pods') or kind ('Pod'): the next this many creates are committed but their
   * connection is destroyed before the response, as when a response is lost in transit.
   */
  loseCreateResponses: Record<string, number>;
}

const defaults: FaultSettings = { errorRate: 0, seed: 1, dropWatchesEveryMs: 0, expireWatches: 0, loseCreateResponses: {} };

/** mulberry32: a small seeded PRNG, enough to make fault sequences reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pluralOf(key: string): string {
  return resourceType(key)?.plural ?? resourceTypeOfKind(key)?.plural ?? key;
}

export class Faults {
  private current: FaultSettings = { ...defaults, loseCreateResponses: {} };
  private random = prng(defaults.seed);
  private timer: NodeJS.Timeout | undefined;
  private readonly droppers = new Set<() => void>();

  constructor(initial: Partial<FaultSettings> = {}) {
    this.set(initial);
  }

  /** The settings in force (a copy). */
  get settings(): FaultSettings {
    return { ...this.current, loseCreateResponses: { ...this.current.loseCreateResponses } };
  }

  /** Changes some settings; the others keep their values. */
  set(changes: Partial<FaultSettings>): void {
    const lose = changes.loseCreateResponses === undefined
      ? this.current.loseCreateResponses
      : Object.fromEntries(Object.entries(changes.loseCreateResponses).map(([k, n]) => [pluralOf(k), n]));
    this.current = { ...this.current, ...changes, loseCreateResponses: lose };
    if (changes.seed !== undefined) this.random = prng(changes.seed);
    if (changes.dropWatchesEveryMs !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      if (changes.dropWatchesEveryMs > 0) {
        this.timer = setInterval(() => this.dropWatches(), changes.dropWatchesEveryMs);
        this.timer.unref();
      }
    }
  }

  /** Clears every fault. */
  reset(): void {
    this.set({ ...defaults, loseCreateResponses: {} });
  }

  /** Destroys every open watch connection now. */
  dropWatches(): void {
    for (const drop of [...this.droppers]) drop();
  }

  /** Decides (drawing from the PRNG) whether this request fails with 500. */
  takeInternalError(): boolean {
    return this.current.errorRate > 0 && this.random() < this.current.errorRate;
  }

  /** True (once per count) when this watch resume must be answered 410 Expired. */
  takeExpiredWatch(): boolean {
    if (this.current.expireWatches <= 0) return false;
    this.current.expireWatches -= 1;
    return true;
  }

  /** True (once per count) when this create's response must be lost. */
  takeLostCreate(plural: string): boolean {
    const left = this.current.loseCreateResponses[plural] ?? 0;
    if (left <= 0) return false;
    this.current.loseCreateResponses[plural] = left - 1;
    return true;
  }

  /** Registers an open watch's way to drop its connection; returns the deregistration. */
  onDropWatches(drop: () => void): () => void {
    this.droppers.add(drop);
    return () => { this.droppers.delete(drop); };
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

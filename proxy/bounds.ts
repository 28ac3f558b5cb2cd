/**
 * What the proxy holds at once (issue 12): string-form result decryptions (each parses and
 * decrypts a whole answer in memory) and bytes of server answers and request bodies. Beyond
 * either bound a request is refused at once with a 503 `V6_PROXY_BUSY` (and `Retry-After`)
 * instead of taking the memory that would kill the proxy; nothing waits in line.
 */
import { ProxyError } from './errors.js';

export interface ProxyLimits {
  /** `proxy.max_concurrent_decryptions`. */
  readonly maxConcurrentDecryptions: number;
  /** `proxy.max_bytes_in_flight`. */
  readonly maxBytesInFlight: number;
}

export class ProxyBounds {
  readonly #limits: ProxyLimits;
  #decryptions = 0;
  #bytes = 0;

  constructor(limits: ProxyLimits) {
    this.#limits = limits;
  }

  /** Takes a decryption slot; the returned function gives it back (once). */
  decryption(): () => void {
    if (this.#decryptions >= this.#limits.maxConcurrentDecryptions) {
      throw busy(`${this.#limits.maxConcurrentDecryptions} result decryption(s) are in progress`);
    }
    this.#decryptions += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#decryptions -= 1;
    };
  }

  /** The bytes one request holds, counted against the bound until `release()`. */
  hold(): BytesHold {
    return new BytesHold(this);
  }

  /** Takes `bytes` if they fit; used by `BytesHold`. */
  take(bytes: number): void {
    if (this.#bytes + bytes > this.#limits.maxBytesInFlight) {
      throw busy(`it holds ${this.#bytes} of its ${this.#limits.maxBytesInFlight} bytes in flight and this needs ${bytes} more`);
    }
    this.#bytes += bytes;
  }

  give(bytes: number): void {
    this.#bytes -= bytes;
  }
}

/** One request's share of the bytes in flight. */
export class BytesHold {
  readonly #bounds: ProxyBounds;
  #held = 0;

  constructor(bounds: ProxyBounds) {
    this.#bounds = bounds;
  }

  /** Counts `bytes` more, or throws `V6_PROXY_BUSY` when they do not fit. */
  add(bytes: number): void {
    if (bytes <= 0) return;
    this.#bounds.take(bytes);
    this.#held += bytes;
  }

  /** Gives back everything held. Idempotent. */
  release(): void {
    this.#bounds.give(this.#held);
    this.#held = 0;
  }
}

function busy(why: string): ProxyError {
  return new ProxyError('V6_PROXY_BUSY', `The node's proxy is busy (${why}); try again later`);
}

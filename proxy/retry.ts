/**
 * When the proxy tries a server call again, as undici's retry handler does: only idempotent
 * methods, only after a connection error or a 502/503/504, a few times with a small capped
 * backoff, waiting what `Retry-After` asks if that fits under the cap. Pure.
 */
import { backoffDelay } from '../queue/backoff.js';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly attempts: number;
  readonly baseMs: number;
  /** No wait is longer; a `Retry-After` beyond it ends the retries. */
  readonly maxMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 3, baseMs: 200, maxMs: 2_000 };

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** What attempt number `attempt` (1-based) of a call ended with. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfter?: string | undefined }
  | { readonly kind: 'connection-error' };

export interface RetryClock {
  /** Milliseconds since the epoch (for HTTP-date `Retry-After`). */
  now(): number;
  random(): number;
}

/** Milliseconds to wait before trying again, or undefined when the outcome stands. */
export function retryDelay(policy: RetryPolicy, method: string, attempt: number, outcome: AttemptOutcome, clock: RetryClock): number | undefined {
  if (!isIdempotent(method) || attempt >= policy.attempts) return undefined;
  if (outcome.kind === 'response' && !RETRYABLE_STATUSES.has(outcome.status)) return undefined;
  const asked = outcome.kind === 'response' ? retryAfterMs(outcome.retryAfter, clock.now()) : undefined;
  if (asked === undefined) return backoffDelay(attempt, policy.baseMs, policy.maxMs, clock.random);
  return asked <= policy.maxMs ? asked : undefined;
}

/** `Retry-After` (delta seconds or an HTTP-date) in milliseconds from `now`; undefined if absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

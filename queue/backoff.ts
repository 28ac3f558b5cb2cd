/**
 * Exponential backoff with full jitter in the upper half, capped: attempt 1 waits about
 * `baseMs`, each next attempt twice as long, never more than `maxMs`. Pure, so the queue and
 * tests share it.
 */
export function backoffDelay(attemptsMade: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

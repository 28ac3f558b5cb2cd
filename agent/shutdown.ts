/**
 * Closing in order with every step bounded: a step that hangs (a BullMQ worker waiting for a
 * Redis that is gone, a watch on an API server that does not answer) is left behind after its
 * time and the next step runs all the same, so SIGTERM always ends within the grace period.
 */
import type { Logger } from 'pino';

export interface CloseStep {
  /** What closes, in the admin's words ("queues", "cluster informer"). */
  readonly name: string;
  close(): Promise<void> | void;
}

/** A step that did not finish: it failed, or was still running when its time was up. */
export interface UnfinishedStep {
  readonly name: string;
  readonly reason: 'timeout' | 'error';
}

/** How long one close step may take by default (the chart gives the pod 60 s to stop). */
export const CLOSE_STEP_TIMEOUT_MS = 5_000;

/**
 * Runs `steps` one after the other, each for at most `timeoutMs`, whatever the earlier ones did;
 * logs each that failed or timed out and resolves with them. Never rejects.
 */
export async function closeInOrder(steps: readonly CloseStep[], options: { logger: Logger; timeoutMs?: number }): Promise<UnfinishedStep[]> {
  const timeoutMs = options.timeoutMs ?? CLOSE_STEP_TIMEOUT_MS;
  const unfinished: UnfinishedStep[] = [];
  for (const step of steps) {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([
      Promise.resolve()
        .then(() => step.close())
        .then(
          () => 'closed' as const,
          (error: unknown) => {
            options.logger.error({ step: step.name, err: error }, `could not close the ${step.name}`);
            return 'error' as const;
          },
        ),
      timedOut,
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') options.logger.warn({ step: step.name, timeoutMs }, `the ${step.name} did not close within ${timeoutMs / 1000} s; going on`);
    if (outcome !== 'closed') unfinished.push({ name: step.name, reason: outcome });
  }
  return unfinished;
}

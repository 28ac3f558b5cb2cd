// A pass that runs every `intervalMs`, never two at once (the next is timed from the end of the
// last), whose failure is logged and tried again at the next interval. `close()` stops the timer
// and waits for a pass under way. For the agent's level-triggered sweeps over the task volume.
import type { Logger } from 'pino';

export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly options: { intervalMs: number; logger: Logger; failure: string; immediately?: boolean },
  ) {}

  start(): void {
    if (this.options.immediately) this.tick();
    else this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    this.running = this.pass()
      .catch((error: unknown) => this.options.logger.warn({ err: error }, this.options.failure))
      .finally(() => {
        this.running = undefined;
        if (!this.closed) this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
      });
  }
}

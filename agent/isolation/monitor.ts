// The agent's view of network isolation: probes at start and then again and again, keeps the
// latest verdict, tells listeners when it changes (node_info_update, the metric, the held
// launches), and decides whether runs may be launched.
import type { Logger } from 'pino';
import type { IsolationConfig } from '../config.js';
import { allowsLaunches, type IsolationState, type ProbeOutcome } from './verdict.js';

/** The current isolation state, as listeners and the metric see it. */
export interface IsolationStatus {
  readonly verdict: IsolationState;
  readonly reason: string;
  /** Whether runs may be launched now. */
  readonly allowsLaunches: boolean;
  /** When the verdict was reached; undefined before the first one. */
  readonly at: Date | undefined;
}

export type VerdictListener = (status: IsolationStatus) => void;

/** How often a refused launch is logged at most. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

export interface IsolationMonitorOptions {
  readonly config: IsolationConfig;
  /** Runs one probe; never throws (IsolationProbe.run). */
  readonly probe: (signal: AbortSignal) => Promise<ProbeOutcome>;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/**
 * Probes when started, then every `interval_seconds` while launches are allowed and every
 * `retry_seconds` while they are held, so a fixed cluster (or a proxy that came up late) is
 * noticed soon. Not at every socket `sync`: a flapping connection would start a pod each time.
 */
export class IsolationMonitor {
  private readonly options: IsolationMonitorOptions;
  private readonly now: () => Date;
  private readonly listeners = new Set<VerdictListener>();
  private readonly abort = new AbortController();
  private current: IsolationStatus;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private lastRefusalLog = -Infinity;
  private closed = false;

  constructor(options: IsolationMonitorOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    const { probe, allow_unenforced } = options.config;
    this.current = probe
      ? { verdict: 'pending', reason: 'the isolation probe has not finished yet', allowsLaunches: allowsLaunches('pending', allow_unenforced), at: undefined }
      : { verdict: 'not-probed', reason: 'isolation.probe is false', allowsLaunches: true, at: undefined };
  }

  /** Starts the first probe (unless `isolation.probe` is false); does not wait for it. */
  start(): void {
    if (!this.options.config.probe) {
      this.options.logger.warn('isolation.probe is false: the agent does not check that NetworkPolicies isolate algorithm pods');
      return;
    }
    void this.probeNow();
  }

  /** The latest verdict (`pending` before the first, `not-probed` when probing is off). */
  verdict(): IsolationState {
    return this.current.verdict;
  }

  status(): IsolationStatus {
    return this.current;
  }

  allowsLaunches(): boolean {
    return this.current.allowsLaunches;
  }

  /** Called with every new verdict (also when it did not change); returns the unsubscribe. */
  onVerdict(listener: VerdictListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Logs that a launch is held, at most once a minute. */
  launchRefused(fields: Record<string, unknown>): void {
    const now = this.now().getTime();
    if (now - this.lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastRefusalLog = now;
    const { verdict, reason } = this.current;
    this.options.logger.error(
      { ...fields, verdict, reason },
      verdict === 'pending'
        ? 'holding launches until the isolation probe has a verdict'
        : 'refusing to run tasks: algorithm pods are not shown to be isolated; runs stay queued (set isolation.allow_unenforced to run them anyway)',
    );
  }

  /** Probes now, unless a probe is running; resolves when the verdict is in. */
  probeNow(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.probing ??= this.probeOnce().finally(() => {
      this.probing = undefined;
      this.schedule();
    });
    return this.probing;
  }

  /** Stops the schedule and any running probe (whose Job it deletes). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.probing;
  }

  private async probeOnce(): Promise<void> {
    clearTimeout(this.timer);
    const outcome = await this.options.probe(this.abort.signal);
    if (this.closed) return;
    const { allow_unenforced } = this.options.config;
    const allowed = allowsLaunches(outcome.verdict, allow_unenforced);
    const previous = this.current;
    this.current = { verdict: outcome.verdict, reason: outcome.reason, allowsLaunches: allowed, at: this.now() };
    // `action` (absent on a 4.x node): the vantage6 action whose rule failed, or whose probe could not tell.
    const fields = { verdict: outcome.verdict, reason: outcome.reason, action: outcome.action };
    if (outcome.verdict === 'enforced') {
      if (previous.verdict !== 'enforced') this.options.logger.info(fields, 'network isolation of algorithm pods is enforced');
    } else if (allowed) {
      this.options.logger.warn(fields, 'network isolation of algorithm pods is NOT confirmed; running tasks anyway because isolation.allow_unenforced is true');
    } else {
      this.options.logger.error(fields, 'network isolation of algorithm pods is NOT confirmed: refusing to run tasks until it is (runs stay queued)');
    }
    for (const listener of this.listeners) {
      try {
        listener(this.current);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'an isolation verdict listener failed');
      }
    }
  }

  private schedule(): void {
    if (this.closed) return;
    const { interval_seconds, retry_seconds } = this.options.config;
    const seconds = this.current.verdict === 'enforced' || this.current.allowsLaunches ? interval_seconds : retry_seconds;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.probeNow(), seconds * 1000);
    this.timer.unref();
  }
}

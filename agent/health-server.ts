/**
 * The HTTP endpoints a kubelet and Prometheus call, on their own port (metrics.port for the agent,
 * metrics.proxy_port for the proxy): `/metrics` (Prometheus text format), `/livez` (the process
 * answers and its event loop has not been stuck since the last check) and `/readyz` (every
 * readiness check passes). Both probes answer JSON that names what fails.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** Named readiness checks, each true when it passes. */
export type ReadinessChecks = Record<string, boolean>;

export interface HealthServerOptions {
  readonly port: number;
  /** Default all interfaces (the kubelet and Prometheus reach the pod IP). */
  readonly host?: string;
  readonly registry: Registry;
  /** Omitted: `/readyz` is ready whenever the process answers. */
  readonly readiness?: () => Promise<ReadinessChecks>;
  /** What the failing checks found, in words (e.g. the missing permissions); added to an unready `/readyz` as `problems`. */
  readonly problems?: () => readonly string[];
  readonly liveness?: EventLoopWatch;
  readonly logger: Logger;
}

export interface HealthServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Watches for a stuck event loop: a timer every `intervalMs` notes how late it fired; `check()`
 * fails when the loop was late by more than `stuckAfterMs` at any time since the previous check
 * (a loop stuck right now cannot answer at all, which the kubelet's timeout catches).
 */
export class EventLoopWatch {
  private readonly intervalMs: number;
  private readonly stuckAfterMs: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  private last: number;
  private worstMs = 0;

  constructor(options: { intervalMs?: number; stuckAfterMs?: number; now?: () => number; autoTick?: boolean } = {}) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.stuckAfterMs = options.stuckAfterMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.last = this.now();
    if (options.autoTick ?? true) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** The timer fired (called by the interval; by tests with an injected clock). */
  tick(): void {
    const at = this.now();
    this.worstMs = Math.max(this.worstMs, at - this.last - this.intervalMs);
    this.last = at;
  }

  /** The worst lateness since the previous check, and whether it is within bounds. Starts a new window. */
  check(): { ok: boolean; eventLoopLagSeconds: number } {
    const lateNow = this.now() - this.last - this.intervalMs;
    const worst = Math.max(this.worstMs, lateNow, 0);
    this.worstMs = 0;
    return { ok: worst <= this.stuckAfterMs, eventLoopLagSeconds: worst / 1000 };
  }

  close(): void {
    clearInterval(this.timer);
  }
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { registry, logger } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      const payload = Buffer.from(JSON.stringify(body));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length, 'cache-control': 'no-store' });
      res.end(payload);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'only GET' });
    switch (path) {
      case '/metrics':
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          },
          (error: unknown) => {
            logger.warn({ err: error }, 'Metrics collection failed');
            json(500, { error: 'metrics collection failed' });
          },
        );
        return;
      case '/livez': {
        const live = options.liveness?.check() ?? { ok: true, eventLoopLagSeconds: 0 };
        return json(live.ok ? 200 : 503, { status: live.ok ? 'alive' : 'event loop stuck', ...live });
      }
      case '/readyz':
        (options.readiness ?? (async () => ({})))().then(
          (checks) => {
            const failing = Object.entries(checks)
              .filter(([, ok]) => !ok)
              .map(([name]) => name);
            const problems = failing.length === 0 ? [] : (options.problems?.() ?? []);
            json(failing.length === 0 ? 200 : 503, { status: failing.length === 0 ? 'ready' : 'unready', failing, checks, ...(problems.length === 0 ? {} : { problems }) });
          },
          (error: unknown) => json(503, { status: 'unready', failing: ['readiness'], error: error instanceof Error ? error.message : String(error) }),
        );
        return;
      default:
        return json(404, { error: 'not found', paths: ['/metrics', '/livez', '/readyz'] });
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        options.liveness?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/**
 * The proxy's Prometheus metrics (prom-client): requests by route and status, latency, bytes on
 * the wire, and the time spent encrypting and decrypting. Labels are bounded: `route` is one of
 * the proxy's route kinds (or `none` when the request matched no route), `status` an HTTP code.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics.js';

export const PROXY_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
export const CRYPTO_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/** The route kinds of proxy/routes.ts, plus `none`; pre-declared so rates exist before traffic. */
export const PROXY_ROUTES = ['create-task', 'results', 'result', 'blob-download', 'blob-upload', 'pass-through', 'none'] as const;

export type CryptoOperation = 'encrypt' | 'decrypt';

/** What the proxy reports; implemented here, optional in ProxyOptions. */
export interface ProxyObserver {
  requestStarted?(): void;
  requestFinished?(request: { route: string; status: number; seconds: number; bytesIn: number; bytesOut: number }): void;
  crypto?(operation: CryptoOperation, seconds: number): void;
}

export class ProxyMetrics implements ProxyObserver {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'status'>;
  private readonly latency: Histogram<'route'>;
  private readonly received: Counter<'route'>;
  private readonly sent: Counter<'route'>;
  private readonly inFlight: Gauge;
  private readonly cryptoSeconds: Histogram<'operation'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectProcessMetrics(this.registry);
    this.requests = new Counter({
      name: 'v6_node_proxy_requests_total',
      help: 'Algorithm requests answered by the proxy, by route and HTTP status',
      labelNames: ['route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'v6_node_proxy_request_duration_seconds',
      help: 'Time from an algorithm request to the end of its answer, by route',
      labelNames: ['route'],
      buckets: PROXY_LATENCY_BUCKETS,
      registers,
    });
    this.received = new Counter({
      name: 'v6_node_proxy_received_bytes_total',
      help: 'Bytes read from algorithm connections (headers included), by route',
      labelNames: ['route'],
      registers,
    });
    this.sent = new Counter({
      name: 'v6_node_proxy_sent_bytes_total',
      help: 'Bytes written to algorithm connections (headers included), by route',
      labelNames: ['route'],
      registers,
    });
    for (const route of PROXY_ROUTES) {
      this.received.inc({ route }, 0);
      this.sent.inc({ route }, 0);
    }
    this.inFlight = new Gauge({ name: 'v6_node_proxy_requests_in_flight', help: 'Algorithm requests being handled now', registers });
    this.cryptoSeconds = new Histogram({
      name: 'v6_node_proxy_crypto_seconds',
      help: 'CPU time of one encryption or decryption (a task input, a result, a whole blob stream), by operation',
      labelNames: ['operation'],
      buckets: CRYPTO_BUCKETS,
      registers,
    });
    for (const operation of ['encrypt', 'decrypt']) this.cryptoSeconds.zero({ operation });
  }

  requestStarted(): void {
    this.inFlight.inc();
  }

  requestFinished(request: { route: string; status: number; seconds: number; bytesIn: number; bytesOut: number }): void {
    const route = (PROXY_ROUTES as readonly string[]).includes(request.route) ? request.route : 'none';
    this.inFlight.dec();
    this.requests.inc({ route, status: String(request.status) });
    this.latency.observe({ route }, request.seconds);
    this.received.inc({ route }, request.bytesIn);
    this.sent.inc({ route }, request.bytesOut);
  }

  crypto(operation: CryptoOperation, seconds: number): void {
    this.cryptoSeconds.observe({ operation }, seconds);
  }
}

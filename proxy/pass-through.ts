/**
 * Everything without a route of its own goes to the server as it came, streamed both ways
 * through http-proxy, to the URL `routes.ts` fixed. Idempotent calls have their (small, bounded)
 * body held so they can be tried again after a connection error or a 502/503/504; other calls
 * stream their body through once and are never repeated.
 */
import { Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { ByteLimit, checkDeclaredLength, readBody } from './body.js';
import { connectionError, errorCode, ProxyError } from './errors.js';
import { isForwardedRequestHeader, responseHeaders } from './headers.js';
import { isIdempotent, retryDelay, type RetryClock, type RetryPolicy } from './retry.js';

export interface PassThroughOptions {
  readonly retry: RetryPolicy;
  readonly clock: RetryClock;
  readonly sleep?: (ms: number) => Promise<unknown>;
  /** No answer (or no progress in it) for this long aborts the server call. */
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
}

type Attempt = { kind: 'response'; response: IncomingMessage } | { kind: 'error'; error: Error };

export class PassThrough {
  readonly #options: PassThroughOptions;
  readonly #sleep: (ms: number) => Promise<unknown>;
  readonly #proxy: httpProxy;
  readonly #agents = { http: new Agent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  /** The pending attempt of each algorithm request: http-proxy reports responses as server-wide events. */
  readonly #pending = new WeakMap<IncomingMessage, { settle: (attempt: Attempt) => void; outgoing?: ClientRequest }>();

  constructor(options: PassThroughOptions) {
    this.#options = options;
    this.#sleep = options.sleep ?? sleep;
    this.#proxy = httpProxy.createProxyServer({
      ignorePath: true,
      changeOrigin: true,
      selfHandleResponse: true,
      xfwd: false,
      proxyTimeout: options.timeoutMs,
    });
    this.#proxy.on('proxyReq', (outgoing, req) => {
      const pending = this.#pending.get(req);
      if (pending !== undefined) pending.outgoing = outgoing;
    });
    this.#proxy.on('proxyRes', (response, req) => this.#pending.get(req)?.settle({ kind: 'response', response }));
    // The algorithm hung up: http-proxy aborts the server call and reports it here instead.
    this.#proxy.on('econnreset', (error, req) => this.#pending.get(req)?.settle({ kind: 'error', error }));
  }

  /** Relays `req` to `upstream` and the answer back; resolves with the status the algorithm got. */
  async forward(req: IncomingMessage, res: ServerResponse, upstream: URL): Promise<number> {
    const method = req.method ?? 'GET';
    for (const name of Object.keys(req.headers)) {
      if (!isForwardedRequestHeader(name)) delete req.headers[name];
    }
    const held = isIdempotent(method) ? await readBody(req, this.#options.maxBodyBytes) : undefined;
    if (held === undefined) checkDeclaredLength(req, this.#options.maxBodyBytes);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(req, res, upstream, held === undefined ? req.pipe(new ByteLimit(this.#options.maxBodyBytes)) : Readable.from([held]));
      if (outcome.kind === 'error') {
        if (outcome.error instanceof ProxyError) throw outcome.error;
        const delay = retryDelay(this.#options.retry, method, attempt, { kind: 'connection-error' }, this.#options.clock);
        if (delay === undefined) throw connectionError(outcome.error);
        this.#logRetry(method, upstream, attempt, delay, errorCode(outcome.error) ?? 'connection error');
        await this.#sleep(delay);
        continue;
      }
      const { response } = outcome;
      const status = response.statusCode ?? 502;
      const retryAfter = response.headers['retry-after'];
      const delay = retryDelay(this.#options.retry, method, attempt, { kind: 'response', status, retryAfter }, this.#options.clock);
      if (delay === undefined) {
        res.writeHead(status, responseHeaders(response.headers, false));
        await pipeline(response, res);
        return status;
      }
      response.resume();
      this.#logRetry(method, upstream, attempt, delay, `status ${status}`);
      await this.#sleep(delay);
    }
  }

  /** Drops the kept-alive connections to the server. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #attempt(req: IncomingMessage, res: ServerResponse, upstream: URL, body: Readable): Promise<Attempt> {
    return new Promise((resolve) => {
      const settle = (attempt: Attempt): void => {
        if (this.#pending.get(req)?.settle !== settle) return;
        this.#pending.delete(req);
        resolve(attempt);
      };
      const pending: { settle: (attempt: Attempt) => void; outgoing?: ClientRequest } = { settle };
      this.#pending.set(req, pending);
      // A body over the limit ends the call: the server must not act on a truncated request.
      body.once('error', (error) => {
        pending.outgoing?.destroy();
        settle({ kind: 'error', error });
      });
      const agent = upstream.protocol === 'https:' ? this.#agents.https : this.#agents.http;
      this.#proxy.web(req, res, { target: upstream.href, buffer: body, agent }, (error) => settle({ kind: 'error', error }));
    });
  }

  #logRetry(method: string, url: URL, attempt: number, delayMs: number, reason: string): void {
    this.#options.logger.warn({ method, path: url.pathname, attempt, delayMs, reason }, 'Retrying server call');
  }
}

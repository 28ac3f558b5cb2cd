/**
 * The proxy's own calls to the vantage6 server (undici), with the container token as the only
 * credential and the retry rules of `retry.ts`. Each call goes to a URL `routes.ts` built from the
 * configured server base.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { BytesHold } from './bounds.js';
import { connectionError, errorCode, ProxyError } from './errors.js';
import { retryDelay, type RetryClock, type RetryPolicy } from './retry.js';

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** A whole server answer. */
export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: UpstreamHeaders;
  readonly body: Buffer;
}

/**
 * A server answer the proxy needed to be a success and was not: it goes to the algorithm as it
 * came (status, headers, body), as upstream vantage6 would have it see the server's error.
 */
export class ServerRefusal extends Error {
  readonly answer: UpstreamAnswer;

  constructor(answer: UpstreamAnswer) {
    super(`the server answered ${answer.status}`);
    this.name = 'ServerRefusal';
    this.answer = answer;
  }
}

export interface UpstreamOptions {
  readonly retry: RetryPolicy;
  readonly clock: RetryClock;
  /** Waits between tries; injected so tests need not wait. */
  readonly sleep?: (ms: number) => Promise<unknown>;
  /** Per-call limit for the response headers and for each gap in the body. */
  readonly timeoutMs: number;
  readonly dispatcher?: Dispatcher;
  readonly logger: Logger;
}

export interface CallOptions {
  readonly token: string;
  /** A Buffer can be sent again; a stream is sent once (only non-idempotent calls stream). */
  readonly body?: Buffer | Readable;
  readonly contentType?: string | undefined;
  /** The length of a streamed body, when the algorithm declared it. */
  readonly contentLength?: number | undefined;
  /** Where `fetch` counts the answer's bytes (the proxy's bytes in flight). */
  readonly hold?: BytesHold;
}

export class Upstream {
  readonly #options: UpstreamOptions;
  readonly #sleep: (ms: number) => Promise<unknown>;

  constructor(options: UpstreamOptions) {
    this.#options = options;
    this.#sleep = options.sleep ?? sleep;
  }

  /**
   * The server's response, its body unread. Connection errors and 502/503/504 are tried again
   * for idempotent methods; a connection error that remains becomes a 502/503 `ProxyError`.
   */
  async open(method: string, url: URL, call: CallOptions): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { authorization: `Bearer ${call.token}` };
    if (call.contentType !== undefined) headers['content-type'] = call.contentType;
    if (call.contentLength !== undefined) headers['content-length'] = String(call.contentLength);
    for (let attempt = 1; ; attempt++) {
      let response: Dispatcher.ResponseData;
      try {
        response = await request(url, {
          method: method as Dispatcher.HttpMethod,
          headers,
          body: call.body,
          headersTimeout: this.#options.timeoutMs,
          bodyTimeout: this.#options.timeoutMs,
          ...(this.#options.dispatcher === undefined ? {} : { dispatcher: this.#options.dispatcher }),
        });
      } catch (error) {
        // A streamed body that failed (over the size limit) ends the call as it is.
        if (error instanceof ProxyError) throw error;
        const delay = retryDelay(this.#options.retry, method, attempt, { kind: 'connection-error' }, this.#options.clock);
        if (delay === undefined) throw connectionError(error);
        this.#logRetry(method, url, attempt, delay, errorCode(error) ?? 'connection error');
        await this.#sleep(delay);
        continue;
      }
      const retryAfter = response.headers['retry-after'];
      const outcome = { kind: 'response' as const, status: response.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
      const delay = retryDelay(this.#options.retry, method, attempt, outcome, this.#options.clock);
      if (delay === undefined) return response;
      await response.body.dump();
      this.#logRetry(method, url, attempt, delay, `status ${response.statusCode}`);
      await this.#sleep(delay);
    }
  }

  /**
   * The whole answer, whatever its status. Its bytes count against `call.hold` as they arrive
   * (the declared length at once): an answer that does not fit is dropped with `V6_PROXY_BUSY`.
   */
  async fetch(method: string, url: URL, call: CallOptions): Promise<UpstreamAnswer> {
    return this.collect(await this.open(method, url, call), call);
  }

  /** The whole of an opened answer, counted against `call.hold` as `fetch` does. */
  async collect(response: Dispatcher.ResponseData, call: Pick<CallOptions, 'hold'>): Promise<UpstreamAnswer> {
    const chunks: Buffer[] = [];
    let length = 0;
    try {
      let counted = Number(response.headers['content-length'] ?? 0) || 0;
      call.hold?.add(counted);
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > counted) {
          call.hold?.add(length - counted);
          counted = length;
        }
        chunks.push(chunk);
      }
    } catch (error) {
      response.body.destroy();
      if (error instanceof ProxyError) throw error;
      throw connectionError(error);
    }
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks, length) };
  }

  /** A JSON object from a successful answer; a `ServerRefusal` for an error status. */
  async fetchObject(method: string, url: URL, call: CallOptions): Promise<Record<string, unknown>> {
    const answer = await this.fetch(method, url, call);
    if (answer.status < 200 || answer.status >= 300) throw new ServerRefusal(answer);
    return parseObject(answer, url);
  }

  #logRetry(method: string, url: URL, attempt: number, delayMs: number, reason: string): void {
    this.#options.logger.warn({ method, path: url.pathname, attempt, delayMs, reason }, 'Retrying server call');
  }
}

/** The answer's body as a JSON object; a 502 `ProxyError` when the server sent anything else. */
export function parseObject(answer: UpstreamAnswer, url: URL): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProxyError('V6_PROXY_SERVER_BAD_RESPONSE', `The vantage6 server answered ${url.pathname} with something that is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

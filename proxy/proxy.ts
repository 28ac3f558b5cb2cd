/**
 * The proxy for algorithm pods (spec A10, issue 4): an HTTP server that lets a request through
 * only with the container token of a run live on this node, then either handles one of vantage6's
 * proxy routes (subtask input encryption, result decryption, blob streaming) or passes the call
 * through to the configured server. Server answers reach the algorithm unchanged; what the proxy
 * answers itself is a JSON `{"msg": …}` with a `ProxyError` status.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';
import type { Logger } from 'pino';
import { protocolOf, serverUrlOf, type Config } from '../agent/config.js';
import type { Cryptor } from '../agent/protocol/encryption.js';
import { ProtocolError } from '../agent/protocol/errors.js';
import { serverEndpoints } from '../agent/server/client.js';
import { decodeJwtClaims } from '../agent/server/jwt.js';
import type { LiveTokens } from '../queue/live-tokens.js';
import { checkDeclaredLength, limitedStream, parseJsonObject, readBody } from './body.js';
import { ProxyBounds, type BytesHold } from './bounds.js';
import { connectionError, ProxyError } from './errors.js';
import { responseHeaders } from './headers.js';
import { passThrough } from './pass-through.js';
import { writeJsonAnswer, writeStreamedAnswer } from './json-answer.js';
import { decryptSpooled, spool, type SpooledAnswer } from './streamed-result.js';
import { decryptResultLazy, decryptResultPageLazy, type UndecryptedResult } from './results.js';
import { DEFAULT_RETRY_POLICY, type RetryClock, type RetryPolicy } from './retry.js';
import { resolveRequest, type ResolvedRequest } from './routes.js';
import { encryptTaskInputs, taskOrganizations, type TaskInputField } from './task-inputs.js';
import { timedCryptor } from './timed-cryptor.js';
import type { ProxyObserver } from '../queue/metrics/proxy-metrics.js';
import { parseObject, ServerRefusal, Upstream, type UpstreamAnswer } from './upstream.js';

export interface ProxyOptions {
  readonly config: Pick<Config, 'server_url' | 'hq_url' | 'port' | 'api_path' | 'proxy'>;
  readonly logger: Logger;
  /** Which run a container token is live for. */
  readonly liveTokens: Pick<LiveTokens, 'runOf'>;
  /** The node's cryptor: `RsaCryptor` with the organization's key, or `DummyCryptor`. */
  readonly cryptor: Cryptor;
  /** Listen address; default all interfaces (pods reach the proxy through its Service). */
  readonly host?: string;
  /** Overrides `config.proxy.listen_port` (0: any free port). */
  readonly listenPort?: number;
  readonly retry?: RetryPolicy;
  readonly clock?: RetryClock;
  readonly sleep?: (ms: number) => Promise<unknown>;
  /** Server calls that give no answer (or no progress) for this long fail; default 5 minutes. */
  readonly upstreamTimeoutMs?: number;
  /** How long `close()` lets requests in flight finish; default 10 s. */
  readonly closeGraceMs?: number;
  /** Request and encryption metrics (`ProxyMetrics`). */
  readonly metrics?: ProxyObserver;
}

export interface RunningProxy {
  /** e.g. `http://127.0.0.1:7654`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (up to the grace period), then drops the rest. Idempotent. */
  close(): Promise<void>;
}

const SYSTEM_CLOCK: RetryClock = { now: Date.now, random: Math.random };

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const logger = options.logger;
  const timeoutMs = options.upstreamTimeoutMs ?? 300_000;
  const dispatcher = new Agent({ keepAliveTimeout: 10_000 });
  const common = { retry: options.retry ?? DEFAULT_RETRY_POLICY, clock: options.clock ?? SYSTEM_CLOCK, timeoutMs, logger, ...(options.sleep ? { sleep: options.sleep } : {}) };
  const handler = new ProxyHandler({
    serverBase: serverEndpoints(serverUrlOf(options.config), options.config.port, options.config.api_path).base,
    maxBodyBytes: options.config.proxy.max_body_bytes,
    taskInputField: protocolOf(options.config) === 5 ? 'arguments' : 'input',
    liveTokens: options.liveTokens,
    cryptor: options.metrics?.crypto ? timedCryptor(options.cryptor, (op, s) => options.metrics?.crypto?.(op, s)) : options.cryptor,
    metrics: options.metrics ?? {},
    logger,
    upstream: new Upstream({ ...common, dispatcher }),
    bounds: new ProxyBounds({
      maxConcurrentDecryptions: options.config.proxy.max_concurrent_decryptions,
      maxBytesInFlight: options.config.proxy.max_bytes_in_flight,
    }),
  });
  const server = createServer((req, res) => void handler.handle(req, res));
  const port = await listen(server, options.listenPort ?? options.config.proxy.listen_port, options.host);
  const host = options.host ?? '127.0.0.1';
  logger.info({ port, server: handler.serverBase }, 'Proxy listening');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? 10_000);
        await closed;
        clearTimeout(grace);
        await dispatcher.close();
        logger.info('Proxy closed');
      })()),
  };
}

function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

interface HandlerParts {
  readonly serverBase: string;
  readonly maxBodyBytes: number;
  /** Where a subtask's per-organization input is: `input` (4.x) or `arguments` (5). */
  readonly taskInputField: TaskInputField;
  readonly liveTokens: Pick<LiveTokens, 'runOf'>;
  readonly cryptor: Cryptor;
  readonly metrics: ProxyObserver;
  readonly logger: Logger;
  readonly upstream: Upstream;
  readonly bounds: ProxyBounds;
}

/** One algorithm request: route, token check, the route's work, one log line. */
class ProxyHandler {
  readonly serverBase: string;
  readonly #parts: HandlerParts;

  constructor(parts: HandlerParts) {
    this.#parts = parts;
    this.serverBase = parts.serverBase;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const fields: Record<string, unknown> = { method };
    this.#measure(req, res, fields);
    // What this request holds of the proxy's bytes in flight, given back when it is answered.
    const hold = this.#parts.bounds.hold();
    let status: number;
    try {
      const resolved = resolveRequest(method, req.url ?? '/', this.serverBase);
      Object.assign(fields, { route: resolved.route.kind, path: resolved.path });
      const token = bearerToken(req);
      fields.runId = await this.#liveRun(token);
      status = await this.#dispatch(resolved, { token, hold }, req, res);
    } catch (error) {
      status = this.#fail(error, req, res, fields);
    } finally {
      hold.release();
    }
    const level = status >= 500 ? 'warn' : 'info';
    this.#parts.logger[level]({ ...fields, status }, 'Proxied request');
  }

  async #liveRun(token: string): Promise<number> {
    let runId: number | undefined;
    try {
      runId = await this.#parts.liveTokens.runOf(token);
    } catch (error) {
      throw new ProxyError('V6_PROXY_TOKEN_CHECK_FAILED', 'The node cannot check container tokens right now; try again later', error);
    }
    if (runId === undefined) throw new ProxyError('V6_PROXY_UNAUTHORIZED', 'The container token does not belong to a run active on this node');
    return runId;
  }

  #dispatch(resolved: ResolvedRequest, call: Call, req: IncomingMessage, res: ServerResponse): Promise<number> {
    switch (resolved.route.kind) {
      case 'create-task':
        return this.#createTask(resolved.upstream, call, req, res);
      case 'results':
        return this.#results(resolved.upstream, call, res, (page) => decryptResultPageLazy(page, this.#parts.cryptor));
      case 'result':
        return this.#result(resolved.upstream, call, res);
      case 'blob-download':
        return this.#downloadBlob(resolved.upstream, call.token, res);
      case 'blob-upload':
        return this.#uploadBlob(resolved.upstream, call.token, req, res);
      case 'pass-through':
        return passThrough(this.#parts.upstream, { ...call, maxBodyBytes: this.#parts.maxBodyBytes }, req, res, resolved.upstream);
    }
  }

  async #createTask(url: URL, call: Call, req: IncomingMessage, res: ServerResponse): Promise<number> {
    const { token, hold } = call;
    const raw = await readBody(req, this.#parts.maxBodyBytes, hold);
    const body = parseJsonObject(raw);
    taskOrganizations(body);
    const api = (path: string) => new URL(`${this.serverBase}/${path}`);
    const collaboration = await this.#parts.upstream.fetchObject('GET', api(`collaboration/${collaborationOf(token, body)}`), { token, hold });
    const encrypted = collaboration.encrypted === true || collaboration.encrypted === 1;
    const outgoing = encrypted
      ? Buffer.from(
          JSON.stringify(
            await encryptTaskInputs(
              body,
              this.#parts.cryptor,
              async (id) => {
                const organization = await this.#parts.upstream.fetchObject('GET', api(`organization/${id}`), { token, hold });
                return typeof organization.public_key === 'string' ? organization.public_key : null;
              },
              this.#parts.taskInputField,
            ),
          ),
        )
      : raw;
    const answer = await this.#parts.upstream.fetch('POST', url, { token, hold, body: outgoing, contentType: 'application/json' });
    return relay(res, answer);
  }

  /** A page of string-form results: the whole answer is parsed and decrypted in memory, so only so many at once. */
  async #results(
    url: URL,
    call: Call,
    res: ServerResponse,
    decrypt: (body: Record<string, unknown>) => { body: Record<string, unknown>; undecrypted: UndecryptedResult[] },
  ): Promise<number> {
    const release = this.#parts.bounds.decryption();
    try {
      const answer = await this.#parts.upstream.fetch('GET', url, call);
      if (answer.status < 200 || answer.status >= 300) return relay(res, answer);
      return await this.#answerDecrypted(answer, url, res, decrypt);
    } finally {
      release();
    }
  }

  /**
   * One string-form result (`GET result/<id>`), decrypted as it streams through temporary files
   * (streamed-result.ts), so its size costs disk, not memory; an answer of another shape is
   * decrypted whole, its bytes counted against the bytes in flight.
   */
  async #result(url: URL, call: Call, res: ServerResponse): Promise<number> {
    const release = this.#parts.bounds.decryption();
    try {
      const response = await this.#parts.upstream.open('GET', url, call);
      if (response.statusCode < 200 || response.statusCode >= 300) return relay(res, await this.#parts.upstream.collect(response, call));
      let spooled: SpooledAnswer;
      try {
        spooled = await spool(response.body, this.#parts.cryptor);
      } catch (error) {
        response.body.destroy();
        throw error instanceof ProxyError ? error : connectionError(error);
      }
      try {
        const streamed = await decryptSpooled(spooled, this.#parts.cryptor.encrypted);
        if (streamed === undefined) {
          call.hold.add(spooled.bytes);
          const answer = { status: response.statusCode, headers: response.headers, body: await spooled.whole() };
          return await this.#answerDecrypted(answer, url, res, (item) => decryptResultLazy(item, this.#parts.cryptor));
        }
        this.#logUndecrypted(streamed.undecrypted);
        await writeStreamedAnswer(res, response.statusCode, responseHeaders(response.headers, true), streamed);
        return response.statusCode;
      } finally {
        await spooled.close();
      }
    } finally {
      release();
    }
  }

  async #answerDecrypted(
    answer: UpstreamAnswer,
    url: URL,
    res: ServerResponse,
    decrypt: (body: Record<string, unknown>) => { body: Record<string, unknown>; undecrypted: UndecryptedResult[] },
  ): Promise<number> {
    const { body, undecrypted } = decrypt(parseObject(answer, url));
    this.#logUndecrypted(undecrypted);
    await writeJsonAnswer(res, answer.status, responseHeaders(answer.headers, true), body);
    return answer.status;
  }

  #logUndecrypted(undecrypted: readonly UndecryptedResult[]): void {
    for (const { id, code } of undecrypted) {
      this.#parts.logger.warn({ resultId: id, code }, 'Result could not be decrypted; passing it on as stored');
    }
  }

  async #downloadBlob(url: URL, token: string, res: ServerResponse): Promise<number> {
    const response = await this.#parts.upstream.open('GET', url, { token });
    const contentType = String(response.headers['content-type'] ?? '');
    const decrypt = response.statusCode >= 200 && response.statusCode < 300 && contentType.startsWith('application/octet-stream');
    res.writeHead(response.statusCode, responseHeaders(response.headers, decrypt));
    try {
      await (decrypt ? pipeline(response.body, this.#parts.cryptor.decryptStream(), res) : pipeline(response.body, res));
    } catch (error) {
      // The status is sent: all that is left is to cut the answer short so the algorithm sees it failed.
      res.destroy();
      this.#parts.logger.warn({ path: url.pathname, err: error }, 'Blob download broke off');
    }
    return response.statusCode;
  }

  async #uploadBlob(url: URL, token: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
    const publicKey = req.headers['x-public-key'];
    if (typeof publicKey !== 'string' || publicKey === '') throw new ProxyError('V6_PROXY_BAD_REQUEST', 'Missing X-Public-Key header');
    checkDeclaredLength(req, this.#parts.maxBodyBytes);
    let encrypt;
    try {
      encrypt = this.#parts.cryptor.encryptStream(publicKey);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw new ProxyError('V6_PROXY_ENCRYPTION_FAILED', `Cannot encrypt for the X-Public-Key: ${error.message}`, error);
    }
    const body = limitedStream(req, this.#parts.maxBodyBytes, encrypt);
    const contentType = req.headers['content-type'] ?? 'application/octet-stream';
    return relay(res, await body.guard(this.#parts.upstream.fetch('POST', url, { token, body: body.stream, contentType })));
  }

  /** Reports the request once its answer is finished or cut off: bytes on its connection since the previous request on it. */
  #measure(req: IncomingMessage, res: ServerResponse, fields: Record<string, unknown>): void {
    const metrics = this.#parts.metrics;
    if (!metrics.requestFinished) return;
    metrics.requestStarted?.();
    const started = process.hrtime.bigint();
    const socket = req.socket;
    res.once('close', () => {
      const seen = accounted.get(socket) ?? { read: 0, written: 0 };
      const now = { read: socket.bytesRead, written: socket.bytesWritten };
      accounted.set(socket, now);
      metrics.requestFinished?.({
        route: typeof fields.route === 'string' ? fields.route : 'none',
        status: res.statusCode,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        bytesIn: Math.max(0, now.read - seen.read),
        bytesOut: Math.max(0, now.written - seen.written),
      });
    });
  }

  /** Answers for a failure; returns the status sent. */
  #fail(error: unknown, req: IncomingMessage, res: ServerResponse, fields: Record<string, unknown>): number {
    if (error instanceof ServerRefusal) return relay(res, error.answer);
    const known = error instanceof ProxyError;
    const status = known ? error.status : 500;
    fields.code = known ? error.code : 'V6_PROXY_INTERNAL';
    if (!known) this.#parts.logger.error({ ...fields, err: error }, 'Proxy failure');
    if (res.headersSent) {
      res.destroy();
      return status;
    }
    const payload = Buffer.from(JSON.stringify({ msg: known ? error.message : "The node's proxy failed; see the node's logs" }));
    // A request whose body was not read cannot leave its connection usable.
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': payload.length,
      ...(known && error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {}),
      ...(req.complete ? {} : { connection: 'close' }),
    });
    res.end(payload);
    return status;
  }
}

/** What every server call of one request carries: the container token, and where its bytes are counted. */
interface Call {
  readonly token: string;
  readonly hold: BytesHold;
}

/** Socket byte counts already attributed to earlier requests on the same keep-alive connection. */
const accounted = new WeakMap<object, { read: number; written: number }>();

/** The token of `Authorization: Bearer <token>`; 401 without one. */
function bearerToken(req: IncomingMessage): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (match?.[1] === undefined) throw new ProxyError('V6_PROXY_UNAUTHORIZED', 'Missing container token: expected Authorization: Bearer <token>');
  return match[1];
}

/** The collaboration a subtask is for: the container token's (which the server enforces), else the body's. */
function collaborationOf(token: string, body: Record<string, unknown>): number {
  let fromToken: unknown;
  try {
    fromToken = (decodeJwtClaims(token).sub as { collaboration_id?: unknown } | undefined)?.collaboration_id;
  } catch {
    fromToken = undefined;
  }
  const id = Number.isInteger(fromToken) ? fromToken : body.collaboration_id;
  if (!Number.isInteger(id)) throw new ProxyError('V6_PROXY_BAD_REQUEST', 'collaboration_id missing');
  return id as number;
}

/** A server answer to the algorithm as it came. */
function relay(res: ServerResponse, answer: UpstreamAnswer): number {
  res.writeHead(answer.status, { ...responseHeaders(answer.headers, true), 'content-length': answer.body.length });
  res.end(answer.body);
  return answer.status;
}

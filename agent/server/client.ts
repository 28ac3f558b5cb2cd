import { request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { ProtocolVersion } from '../config.js';
import {
  AuthRejectedError,
  ServerBadResponseError,
  ServerResponseError,
  ServerUnreachableError,
  ServerVersionError,
} from '../errors.js';
import { decodeJwtClaims } from './jwt.js';
import { clientCredentialsToken, type KeycloakClient } from './keycloak.js';

/** Where the server lives: `origin` is `server_url[:port]`, `base` adds the API path (spec A1). */
export interface ServerEndpoints {
  readonly origin: string;
  readonly base: string;
}

export function serverEndpoints(serverUrl: string, port: number | undefined, apiPath: string): ServerEndpoints {
  const origin = `${serverUrl.replace(/\/+$/, '')}${port ? `:${port}` : ''}`;
  const path = apiPath === '' || apiPath.startsWith('/') ? apiPath : `/${apiPath}`;
  return { origin, base: `${origin}${path.replace(/\/+$/, '')}` };
}

/** Who this node is, as the server says after login (spec A2). */
export interface NodeIdentity {
  readonly nodeId: number;
  readonly nodeName: string;
  readonly organizationId: number;
  readonly organizationName: string;
  readonly collaborationId: number;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Record<string, string | number | boolean | undefined>;
}

export interface ServerClientOptions {
  readonly endpoints: ServerEndpoints;
  readonly apiKey: string;
  /** The protocol the config is for; the server's `GET version` must have this major (default 4). */
  readonly protocol?: ProtocolVersion;
  /** A 5 hub's Keycloak and the node's name there (the client secret is `apiKey`). */
  readonly keycloak?: Omit<KeycloakClient, 'secret'>;
  readonly logger: Logger;
  /** Milliseconds since the epoch; injected so tests control token expiry. */
  readonly now?: () => number;
  /** Refresh the access token when it has less than this left (vantage6: 600 s). */
  readonly refreshBeforeExpirySeconds?: number;
  readonly requestTimeoutMs?: number;
  readonly dispatcher?: Dispatcher;
  /** Called each time a token is obtained; for metrics. */
  readonly onToken?: (kind: 'login' | 'refresh') => void;
}

interface Tokens {
  access: string;
  /** A 4.x server's refresh token and where to use it; a 5 hub's Keycloak gives none. */
  refresh?: { token: string; url: string };
  /** When to renew: the refresh margin before expiry, or a quarter of the lifetime if that is less (Keycloak's 5-minute tokens). */
  renewAt: number;
}

/**
 * The node's REST client for a vantage6 4.x server or 5 hub: checks that the server's version is
 * the config's, logs in with the API key (4.x: `POST token/node`; 5: Keycloak's client-credentials
 * grant), renews the access token before it expires (checked before every use, so no timer can
 * drift), and turns every failure into a typed error. It does not retry on its own except once after a 401
 * with a fresh token; callers that need durability retry through their queue.
 */
export class ServerClient {
  readonly endpoints: ServerEndpoints;
  private readonly apiKey: string;
  private readonly protocol: ProtocolVersion;
  private readonly keycloak: KeycloakClient | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly refreshBeforeMs: number;
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly onToken: ((kind: 'login' | 'refresh') => void) | undefined;
  private tokens: Tokens | undefined;
  private pendingToken: Promise<Tokens> | undefined;

  constructor(options: ServerClientOptions) {
    this.endpoints = options.endpoints;
    this.apiKey = options.apiKey;
    this.protocol = options.protocol ?? 4;
    this.keycloak = options.keycloak === undefined ? undefined : { ...options.keycloak, secret: options.apiKey };
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.refreshBeforeMs = (options.refreshBeforeExpirySeconds ?? 600) * 1000;
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.dispatcher = options.dispatcher;
    this.onToken = options.onToken;
  }

  /** Checks the server's version, logs in and reads the node's identity: node, organization and collaboration. */
  async login(): Promise<NodeIdentity> {
    await this.checkVersion();
    const tokens = await this.obtainTokens('login');
    const node = this.protocol === 5 ? await this.request<NodeRecord>('GET', 'node/me') : await this.request<NodeRecord>('GET', `node/${this.subjectNodeId(tokens)}`);
    const organization = await this.request<{ name: string }>('GET', `organization/${node.organization.id}`);
    return {
      nodeId: node.id,
      nodeName: node.name,
      organizationId: node.organization.id,
      organizationName: organization.name,
      collaborationId: node.collaboration.id,
    };
  }

  /** A 4.x token's subject is the node id (spec A2). */
  private subjectNodeId(tokens: Tokens): number {
    const nodeId = Number(decodeJwtClaims(tokens.access).sub);
    if (!Number.isInteger(nodeId)) throw new ServerBadResponseError('POST', 'token/node', 'token subject is not a node id');
    return nodeId;
  }

  /** `GET version` (no login needed; 4.x and 5 both answer `{"version": "x.y.z"}`): its major must be the config's. */
  private async checkVersion(): Promise<void> {
    const { version } = await this.parse<{ version?: unknown }>('GET', 'version', await this.sendTo('GET', `${this.endpoints.base}/version`, undefined, undefined));
    const major = typeof version === 'string' ? Number(version.split('.')[0]) : Number.NaN;
    if (major === this.protocol) return;
    throw new ServerVersionError(this.endpoints.base, String(version), this.protocol);
  }

  /** An access token valid for at least the refresh margin; logs in or refreshes as needed. */
  async accessToken(): Promise<string> {
    const tokens = this.tokens;
    if (tokens && this.now() < tokens.renewAt) return tokens.access;
    return (await this.obtainTokens(tokens ? 'refresh' : 'login')).access;
  }

  /** Drops the current tokens so the next use logs in again (after `invalid_token`). */
  forgetTokens(): void {
    this.tokens = undefined;
  }

  /** Refreshes now (after `expired_token`). */
  async refreshNow(): Promise<string> {
    return (await this.obtainTokens(this.tokens ? 'refresh' : 'login')).access;
  }

  /** A JSON request to `base/path`. A 401 is retried once with a new token, as vantage6's client does. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const first = await this.send(method, path, options, await this.accessToken());
    if (first.statusCode !== 401) return this.parse<T>(method, path, first);
    this.logger.info({ path }, 'server answered 401; retrying once with a new token');
    const second = await this.send(method, path, options, await this.refreshNow());
    return this.parse<T>(method, path, second);
  }

  private async obtainTokens(kind: 'login' | 'refresh'): Promise<Tokens> {
    this.pendingToken ??= (kind === 'refresh' ? this.refresh() : this.authenticate()).finally(() => {
      this.pendingToken = undefined;
    });
    return this.pendingToken;
  }

  private async authenticate(): Promise<Tokens> {
    if (this.keycloak !== undefined) return this.keycloakToken('login');
    const response = await this.sendTo('POST', `${this.endpoints.base}/token/node`, { api_key: this.apiKey }, undefined);
    if (response.statusCode === 401) {
      await response.body.dump();
      throw new AuthRejectedError(
        `the vantage6 server at ${this.endpoints.base} does not recognise this node's api_key: check api_key (or V6_API_KEY)`,
      );
    }
    if (response.statusCode === 400) {
      // The server validates the key's form: `{"msg": "Request body is incorrect", "errors": {"api_key": [...]}}`.
      const text = await response.body.text().catch(() => '');
      throw new AuthRejectedError(
        `the vantage6 server at ${this.endpoints.base} refused this node's api_key as malformed (${text.slice(0, 200)}): check api_key (or V6_API_KEY)`,
      );
    }
    const body = await this.parse<TokenResponse>('POST', 'token/node', response);
    this.onToken?.('login');
    this.logger.info('logged in to the vantage6 server');
    return this.store(body);
  }

  /** A 5 hub's node asks Keycloak again: there is no refresh token. */
  private async keycloakToken(kind: 'login' | 'refresh'): Promise<Tokens> {
    const access = await clientCredentialsToken(this.keycloak!, { timeoutMs: this.timeoutMs, ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}) });
    this.onToken?.(kind);
    if (kind === 'login') this.logger.info({ keycloak: this.keycloak!.url }, 'logged in to the vantage6 hub through Keycloak');
    return this.store({ access_token: access });
  }

  private async refresh(): Promise<Tokens> {
    if (this.keycloak !== undefined) return this.keycloakToken('refresh');
    const current = this.tokens?.refresh;
    if (!current) return this.authenticate();
    const response = await this.sendTo('POST', `${this.endpoints.origin}${current.url}`, undefined, current.token);
    if (response.statusCode === 401 || response.statusCode === 422) {
      this.logger.info({ status: response.statusCode }, 'refresh token rejected; logging in again');
      await response.body.dump();
      return this.authenticate();
    }
    const body = await this.parse<TokenResponse>('POST', current.url, response);
    this.onToken?.('refresh');
    this.logger.debug('refreshed the access token');
    return this.store(body);
  }

  private store(body: TokenResponse): Tokens {
    const keycloak = this.keycloak !== undefined;
    if (typeof body.access_token !== 'string' || (!keycloak && typeof body.refresh_token !== 'string')) {
      throw new ServerBadResponseError('POST', 'token', 'no access_token/refresh_token in the answer');
    }
    const claims = decodeJwtClaims(body.access_token);
    const [exp, iat] = [Number(claims.exp) * 1000, Number(claims.iat) * 1000];
    // A token without exp never expires; renew it daily anyway.
    const margin = Number.isFinite(iat) ? Math.min(this.refreshBeforeMs, (exp - iat) / 4) : this.refreshBeforeMs;
    const tokens: Tokens = {
      access: body.access_token,
      ...(keycloak ? {} : { refresh: { token: body.refresh_token!, url: body.refresh_url ?? '/api/token/refresh' } }),
      renewAt: Number.isFinite(exp) ? exp - margin : this.now() + 86_400_000,
    };
    this.tokens = tokens;
    return tokens;
  }

  private send(method: string, path: string, options: RequestOptions, token: string) {
    const url = new URL(`${this.endpoints.base}/${path.replace(/^\/+/, '')}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return this.sendTo(method, url.toString(), options.body, token);
  }

  private async sendTo(method: string, url: string, body: unknown, token: string | undefined) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
    } catch (error) {
      throw new ServerUnreachableError(this.endpoints.origin, error);
    }
  }

  private async parse<T>(method: string, path: string, response: Dispatcher.ResponseData): Promise<T> {
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw new ServerUnreachableError(this.endpoints.origin, error);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      if (response.statusCode >= 400) throw new ServerResponseError(method, path, response.statusCode, text);
      throw new ServerBadResponseError(method, path, `not JSON (${text.slice(0, 80)})`);
    }
    if (response.statusCode >= 300) throw new ServerResponseError(method, path, response.statusCode, parsed);
    return parsed as T;
  }
}

/** What the node reads of its own record (`GET node/<id>`, or a 5 hub's `GET node/me`). */
interface NodeRecord {
  id: number;
  name: string;
  organization: { id: number };
  collaboration: { id: number };
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  refresh_url?: string;
}

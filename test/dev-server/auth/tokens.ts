// Issues and checks the server's JWTs (flask-jwt-extended layout): node and user access/refresh
// tokens with `exp`, container tokens with an object `sub` and no `exp` (spec A2, A6).
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { NodeFixture, UserFixture } from '../state/fixtures.js';
import type { DevServerState } from '../state/model.js';
import { msg } from '../http/router.js';
import { JwtError, signJwt, verifyJwt, type JwtClaims } from './jwt.js';

/** The container token's `sub` (spec A6). */
export interface ContainerIdentity {
  client_type: 'container';
  node_id: number;
  organization_id: number;
  collaboration_id: number;
  study_id: number | null;
  store_id: number | null;
  task_id: number;
  image: string;
  databases: Record<string, unknown>[];
}

export type Identity =
  | { kind: 'node'; node: NodeFixture }
  | { kind: 'user'; user: UserFixture }
  | { kind: 'container'; container: ContainerIdentity };

/** Who can log in and refresh: nodes and users. */
export type LoginIdentity = Exclude<Identity, { kind: 'container' }>;

export interface TokenPair {
  access_token: string;
  refresh_token: string;
}

export interface TokenServiceOptions {
  secret: string;
  accessTokenLifetimeSeconds: number;
  refreshTokenLifetimeSeconds: number;
  clock: () => Date;
}

type TokenType = 'access' | 'refresh';

export class TokenService {
  constructor(
    private readonly state: DevServerState,
    private readonly options: TokenServiceOptions,
  ) {}

  private nowSeconds(): number {
    return Math.floor(this.options.clock().getTime() / 1000);
  }

  private sign(sub: unknown, clientType: string, type: TokenType, lifetimeSeconds: number | null): string {
    const iat = this.nowSeconds();
    // csrf: flask-jwt-extended adds it, as the server also accepts tokens in cookies.
    const claims: JwtClaims = { fresh: false, iat, jti: randomUUID(), type, sub, nbf: iat, csrf: randomUUID() };
    if (lifetimeSeconds !== null) claims.exp = iat + lifetimeSeconds;
    claims.client_type = clientType;
    claims.roles = [];
    return signJwt(claims, this.options.secret);
  }

  issuePair(identity: LoginIdentity): TokenPair {
    const [sub, clientType] = identity.kind === 'node' ? [identity.node.id, 'node'] : [identity.user.id, 'user'];
    return {
      access_token: this.sign(sub, clientType, 'access', this.options.accessTokenLifetimeSeconds),
      refresh_token: this.sign(sub, clientType, 'refresh', this.options.refreshTokenLifetimeSeconds),
    };
  }

  issueContainer(container: ContainerIdentity): string {
    return this.sign(container, 'container', 'access', null);
  }

  /** Verifies a raw token; throws JwtError (bad/expired) or HttpError (unknown subject). */
  verify(token: string, expected: TokenType): Identity {
    const claims = verifyJwt(token, this.options.secret, this.nowSeconds());
    if (claims.type !== expected) {
      throw msg(422, expected === 'refresh' ? 'Only refresh tokens are allowed' : 'Only non-refresh tokens are allowed');
    }
    return this.identityOf(claims);
  }

  private identityOf(claims: JwtClaims): Identity {
    if (claims.client_type === 'container' && typeof claims.sub === 'object' && claims.sub !== null) {
      return { kind: 'container', container: claims.sub as ContainerIdentity };
    }
    if (claims.client_type === 'node') {
      const node = this.state.fixtures.nodes.find((n) => n.id === claims.sub);
      if (node) return { kind: 'node', node };
    }
    if (claims.client_type === 'user') {
      const user = this.state.fixtures.users.find((u) => u.id === claims.sub);
      if (user) return { kind: 'user', user };
    }
    throw msg(401, 'Identity of the token was not found');
  }

  /** Authenticates a request from its `Authorization: Bearer` header, answering like flask-jwt-extended. */
  authenticate(headers: IncomingHttpHeaders, expected: TokenType = 'access'): Identity {
    const header = headers.authorization;
    if (header === undefined) throw msg(401, 'Missing Authorization Header');
    const [scheme, token, ...rest] = header.split(' ');
    if (scheme !== 'Bearer' || token === undefined || rest.length > 0) {
      throw msg(401, "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'");
    }
    try {
      return this.verify(token, expected);
    } catch (error) {
      throw error instanceof JwtError ? msg(401, error.message) : error;
    }
  }
}

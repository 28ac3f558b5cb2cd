// HS256 JSON Web Tokens, as flask-jwt-extended issues and checks them for the vantage6 server.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type JwtClaims = Record<string, unknown>;

/** Why a token was refused; the messages are PyJWT's / flask-jwt-extended's. */
export type JwtErrorCode = 'expired' | 'invalid_signature' | 'malformed';

export class JwtError extends Error {
  constructor(
    readonly code: JwtErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

function signature(signingInput: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(signingInput).digest();
}

/** Signs `claims` with HS256. */
export function signJwt(claims: JwtClaims, secret: string): string {
  const signingInput = `${HEADER}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${signature(signingInput, secret).toString('base64url')}`;
}

/** Reads the claims without checking anything (what the node does with its own token). */
export function decodeJwt(token: string): JwtClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed', 'Not enough segments');
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('not an object');
    return claims as JwtClaims;
  } catch {
    throw new JwtError('malformed', 'Invalid payload string');
  }
}

/** Checks the HS256 signature and, when present, `exp` against `nowSeconds`. */
export function verifyJwt(token: string, secret: string, nowSeconds: number): JwtClaims {
  const claims = decodeJwt(token);
  const [header, payload, sig] = token.split('.') as [string, string, string];
  let headerJson: unknown;
  try {
    headerJson = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', 'Invalid header string');
  }
  if ((headerJson as { alg?: unknown }).alg !== 'HS256') {
    throw new JwtError('malformed', 'The specified alg value is not allowed');
  }
  const expected = signature(`${header}.${payload}`, secret);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new JwtError('invalid_signature', 'Signature verification failed');
  }
  if (typeof claims.exp === 'number' && claims.exp <= nowSeconds) {
    throw new JwtError('expired', 'Token has expired');
  }
  return claims;
}

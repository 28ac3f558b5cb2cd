/** Reads the claims of a JWT without verifying it, as the vantage6 node does to learn its own id. */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (payload === undefined) throw new Error('not a JWT: expected three dot-separated parts');
  const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  if (claims === null || typeof claims !== 'object') throw new Error('JWT payload is not an object');
  return claims as Record<string, unknown>;
}

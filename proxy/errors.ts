/**
 * What the proxy itself answers an algorithm, each with a stable `code` (logged) and the HTTP
 * status and `{"msg": …}` body the algorithm sees. Errors the server answers are not these: they
 * reach the algorithm unchanged.
 */
export type ProxyErrorCode =
  | 'V6_PROXY_UNAUTHORIZED'
  | 'V6_PROXY_NOT_FOUND'
  | 'V6_PROXY_BAD_REQUEST'
  | 'V6_PROXY_BAD_JSON'
  | 'V6_PROXY_BODY_TOO_LARGE'
  | 'V6_PROXY_SERVER_UNREACHABLE'
  | 'V6_PROXY_SERVER_UNAVAILABLE'
  | 'V6_PROXY_SERVER_BAD_RESPONSE'
  | 'V6_PROXY_TOKEN_CHECK_FAILED'
  | 'V6_PROXY_ENCRYPTION_FAILED'
  | 'V6_PROXY_BUSY';

const STATUS: Readonly<Record<ProxyErrorCode, number>> = {
  V6_PROXY_UNAUTHORIZED: 401,
  V6_PROXY_NOT_FOUND: 404,
  V6_PROXY_BAD_REQUEST: 400,
  V6_PROXY_BAD_JSON: 400,
  V6_PROXY_BODY_TOO_LARGE: 413,
  V6_PROXY_SERVER_UNREACHABLE: 502,
  V6_PROXY_SERVER_UNAVAILABLE: 503,
  V6_PROXY_SERVER_BAD_RESPONSE: 502,
  V6_PROXY_TOKEN_CHECK_FAILED: 503,
  V6_PROXY_ENCRYPTION_FAILED: 400,
  V6_PROXY_BUSY: 503,
};

/** `Retry-After` (seconds) of the answers for a refusal that passes by itself. */
const RETRY_AFTER_SECONDS: Partial<Readonly<Record<ProxyErrorCode, number>>> = {
  V6_PROXY_BUSY: 5,
};

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;
  /** The `Retry-After` the answer carries, if any. */
  readonly retryAfterSeconds: number | undefined;

  /** `message` is what the algorithm reads as `msg`: never a token, a key or a body. */
  constructor(code: ProxyErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ProxyError';
    this.code = code;
    this.status = STATUS[code];
    this.retryAfterSeconds = RETRY_AFTER_SECONDS[code];
  }
}

/** Network error codes meaning nothing listens at the server's address (502); others mean it stopped answering (503). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** The proxy error for a failed connection to the server (undici or node:http error). */
export function connectionError(error: unknown): ProxyError {
  const code = errorCode(error);
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new ProxyError('V6_PROXY_SERVER_UNREACHABLE', `The vantage6 server cannot be reached (${code}); try again later`, error);
  }
  return new ProxyError('V6_PROXY_SERVER_UNAVAILABLE', `The vantage6 server did not answer (${code ?? 'connection failed'}); try again later`, error);
}

/** The `code` of an error or of its cause (undici wraps socket errors). */
export function errorCode(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Errors the agent raises, each with a stable `code` (as undici's UND_ERR_*), so callers and
 * logs can tell them apart without parsing messages. `retryable` says whether trying the same
 * thing again later can succeed; a terminal error is never retried.
 */
export type AgentErrorCode =
  | 'V6_CONFIG_INVALID'
  | 'V6_SERVER_UNREACHABLE'
  | 'V6_SERVER_ERROR'
  | 'V6_SERVER_BAD_RESPONSE'
  | 'V6_AUTH_REJECTED'
  | 'V6_SERVER_VERSION'
  | 'V6_ENCRYPTION_MISMATCH'
  | 'V6_RUN_NOT_RUNNABLE'
  | 'V6_KUBE_API_ERROR'
  | 'V6_PROXY_UNRESOLVABLE'
  | 'V6_KUBE_ACCESS_MISSING'
  | 'V6_DATAFRAME_UNREADABLE';

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  readonly retryable: boolean;

  constructor(code: AgentErrorCode, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable;
  }
}

/** The server could not be reached (connection refused, reset, timeout). Always retryable. */
export class ServerUnreachableError extends AgentError {
  constructor(url: string, cause: unknown) {
    super('V6_SERVER_UNREACHABLE', `vantage6 server unreachable at ${url}: ${describe(cause)}`, {
      retryable: true,
      cause,
    });
  }
}

/** The server answered with an error status. 5xx and 429 are retryable, 4xx are not. */
export class ServerResponseError extends AgentError {
  readonly status: number;
  readonly body: unknown;

  constructor(method: string, path: string, status: number, body: unknown) {
    super('V6_SERVER_ERROR', `${method} ${path} answered ${status}: ${summarize(body)}`, {
      retryable: status >= 500 || status === 429,
    });
    this.status = status;
    this.body = body;
  }
}

/** The server answered something that is not the JSON the protocol promises. Retryable: a proxy or a restart may be in the way. */
export class ServerBadResponseError extends AgentError {
  constructor(method: string, path: string, detail: string) {
    super('V6_SERVER_BAD_RESPONSE', `${method} ${path} answered an unreadable body: ${detail}`, { retryable: true });
  }
}

/** The server refused the node's API key: the admin must fix the key. */
export class AuthRejectedError extends AgentError {
  constructor(message: string) {
    super('V6_AUTH_REJECTED', message, { retryable: false });
  }
}

/** The server speaks another vantage6 major than the config is for: the admin must fix the config. */
export class ServerVersionError extends AgentError {
  constructor(base: string, version: string, expected: number) {
    const fix =
      expected === 4
        ? 'for a vantage6 5 hub set hq_url, name and keycloak instead of server_url'
        : 'for a vantage6 4.x server set server_url instead of hq_url (and remove name and keycloak)';
    super('V6_SERVER_VERSION', `the server at ${base} is vantage6 ${version}, but the config is for vantage6 ${expected}: ${fix}`, { retryable: false });
  }
}

/** A run that cannot be executed; `status` is the vantage6 run status to report and `message` the run log. */
export class RunNotRunnableError extends AgentError {
  readonly status: string;

  constructor(status: string, message: string, cause?: unknown) {
    super('V6_RUN_NOT_RUNNABLE', message, { retryable: false, cause });
    this.status = status;
  }
}

/**
 * Why a run's output is not a parquet file whose columns can be reported: `empty`, `missing`,
 * `not-parquet` (no PAR1 magic at the start), `truncated` (starts as
 * parquet but does not end as one), `encrypted` (footer magic PARE: no keys here),
 * `footer-unreadable` (the footer, or its ARROW:schema, cannot be decoded, or its length points
 * outside the file), `unsupported` (a readable footer this node does not map to dtypes).
 */
export type DataframeUnreadableReason = 'empty' | 'missing' | 'not-parquet' | 'truncated' | 'encrypted' | 'footer-unreadable' | 'unsupported';

/** A run's output file is not a readable parquet file: the node reports the run as `unexpected output`. Terminal. */
export class DataframeUnreadableError extends AgentError {
  readonly file: string;
  readonly reason: DataframeUnreadableReason;

  constructor(file: string, reason: DataframeUnreadableReason, detail: string, cause?: unknown) {
    super('V6_DATAFRAME_UNREADABLE', `${file} is not a readable parquet file: ${detail}`, { retryable: false, cause });
    this.file = file;
    this.reason = reason;
  }
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function summarize(body: unknown): string {
  if (body && typeof body === 'object' && 'msg' in body) return String((body as { msg: unknown }).msg);
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text === undefined ? '(empty)' : text.slice(0, 200);
}

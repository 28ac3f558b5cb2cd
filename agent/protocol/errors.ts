/**
 * Errors raised by the pure vantage6 protocol modules, each with a stable `code` so the agent and
 * the proxy can tell them apart (and map them to a run status) without parsing messages. None of
 * them is retryable: the same input gives the same error again.
 */
export type ProtocolErrorCode =
  | 'V6_PROTO_MESSAGE_MALFORMED'
  | 'V6_PROTO_BASE64_INVALID'
  | 'V6_PROTO_KEY_DECRYPT_FAILED'
  | 'V6_PROTO_PLAINTEXT_NOT_UTF8'
  | 'V6_PROTO_PUBLIC_KEY_INVALID'
  | 'V6_PROTO_PRIVATE_KEY_INVALID'
  | 'V6_PROTO_ENV_VALUE_INVALID'
  | 'V6_PROTO_IMAGE_NAME_INVALID'
  | 'V6_PROTO_DATETIME_INVALID';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** Text that Python's lenient `base64.b64decode` rejects (bad padding, or 4n+1 data characters). */
export class Base64Error extends ProtocolError {
  constructor(message: string) {
    super('V6_PROTO_BASE64_INVALID', message);
  }
}

/** Bytes that are not strict UTF-8 where vantage6 decodes them as such. */
export class NotUtf8Error extends ProtocolError {
  constructor(what: string) {
    super('V6_PROTO_PLAINTEXT_NOT_UTF8', `${what} is not valid UTF-8`);
  }
}

/**
 * A message that cannot be decrypted: `code` says whether its layout is wrong
 * (`V6_PROTO_MESSAGE_MALFORMED`) or the shared key cannot be recovered with our private key
 * (`V6_PROTO_KEY_DECRYPT_FAILED`: encrypted for another organization, or corrupted).
 */
export class DecryptionError extends ProtocolError {
  constructor(code: 'V6_PROTO_MESSAGE_MALFORMED' | 'V6_PROTO_KEY_DECRYPT_FAILED', message: string, cause?: unknown) {
    super(code, message, cause);
  }
}

/** A key that cannot be loaded or used: `code` says whether it was a public or a private key. */
export class KeyError extends ProtocolError {
  constructor(code: 'V6_PROTO_PUBLIC_KEY_INVALID' | 'V6_PROTO_PRIVATE_KEY_INVALID', message: string, cause?: unknown) {
    super(code, message, cause);
  }
}

/** An algorithm environment value that `get_env_var` refuses (not UTF-8, not a bool, not an int). */
export class EnvValueError extends ProtocolError {
  constructor(message: string) {
    super('V6_PROTO_ENV_VALUE_INVALID', message);
  }
}

/** docker-py's `InvalidRepository`: an image reference with a scheme or a registry starting/ending in '-'. */
export class InvalidImageNameError extends ProtocolError {
  constructor(message: string) {
    super('V6_PROTO_IMAGE_NAME_INVALID', message);
  }
}

/** A timestamp that cannot be sent to or read from the vantage6 server. */
export class DatetimeError extends ProtocolError {
  constructor(message: string) {
    super('V6_PROTO_DATETIME_INVALID', message);
  }
}

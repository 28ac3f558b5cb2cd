// Errors raised by the pure Kubernetes builders, each with a stable `code`. None is retryable: the
// same run and config give the same error again.

export type KubeSpecErrorCode =
  | 'V6_KUBE_ID_INVALID'
  | 'V6_KUBE_ENV_NAME_INVALID'
  | 'V6_KUBE_DATABASE_PARAMETERS_INVALID'
  | 'V6_KUBE_OWNER_UID_MISSING';

export class KubeSpecError extends Error {
  readonly code: KubeSpecErrorCode;

  constructor(code: KubeSpecErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An id (node, run, task, job) that is not a non-negative safe integer: a caller bug. */
export class InvalidIdError extends KubeSpecError {
  constructor(what: string) {
    super('V6_KUBE_ID_INVALID', `${what} must be a non-negative integer`);
  }
}

/**
 * A run that cannot be given its environment. vantage6 marks such a run `failed` (A7); the message
 * names the variable or database and is meant for the run log.
 */
export class AlgorithmEnvError extends KubeSpecError {
  readonly runStatus = 'failed';

  constructor(code: 'V6_KUBE_ENV_NAME_INVALID' | 'V6_KUBE_DATABASE_PARAMETERS_INVALID', message: string) {
    super(code, message);
  }
}

/** `secretOwnedBy` was given a Job that the API server has not created yet (no uid). */
export class OwnerUidMissingError extends KubeSpecError {
  constructor(name: string | undefined) {
    super('V6_KUBE_OWNER_UID_MISSING', `Job ${name ?? '(unnamed)'} has no uid: create it before owning objects by it`);
  }
}

import { isValidEnvName } from '../protocol/env.js';

/**
 * Whether an algorithm may be given a variable of this name: vantage6's rule (an identifier, not
 * PKG_NAME) and Kubernetes' (the API server refuses names that are not printable ASCII).
 */
export function isAlgorithmEnvName(name: string): boolean {
  return isValidEnvName(name) && /^[\x21-\x7e]+$/.test(name);
}

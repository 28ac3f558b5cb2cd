import { RunNotRunnableError } from '../errors.js';
import type { Cryptor } from '../protocol/encryption.js';
import { RunStatus } from '../protocol/run-status.js';
import type { ServerRun } from '../server/types.js';

/** What a run's input is called and must be, per protocol. */
const INPUT = {
  4: {
    field: 'input',
    what: 'The run input',
    is: 'is',
    valid: () => true,
    expected: 'vantage6 4.x algorithms read a JSON object such as {"method": …, "kwargs": {…}}',
  },
  5: {
    field: 'arguments',
    what: 'The run arguments',
    is: 'are',
    valid: (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value),
    expected: 'vantage6 5 algorithms are called with keyword arguments, a JSON object such as {"column": "age"}',
  },
} as const;

/**
 * The bytes the algorithm reads from INPUT_FILE: the run's input (4.x) or arguments (5)
 * decrypted, or base64-decoded in an unencrypted collaboration. Unlike upstream, which hands the
 * algorithm the ciphertext when decryption fails, a run whose input cannot be read fails with a
 * log that says why.
 */
export function decodeRunInput(run: ServerRun, cryptor: Cryptor, protocol: 4 | 5): Buffer {
  const { field, what, is, valid, expected } = INPUT[protocol];
  if (run.blob_storage_used) {
    throw new RunNotRunnableError(
      RunStatus.Failed,
      `${what} ${is} in the server's blob store, which this node does not read yet; ask the researcher to send it inline.`,
    );
  }
  let input: Buffer;
  try {
    input = cryptor.decryptStrToBytes(run[field] ?? '');
  } catch (error) {
    const how = cryptor.encrypted ? 'decrypted with this organization\'s private key' : 'decoded as base64';
    throw new RunNotRunnableError(RunStatus.Failed, `${what} could not be ${how}: ${(error as Error).message}`, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.toString('utf8'));
  } catch {
    throw new RunNotRunnableError(RunStatus.Failed, `${what} ${is} not JSON; ${expected}.`);
  }
  if (!valid(parsed)) throw new RunNotRunnableError(RunStatus.Failed, `${what} ${is} not a JSON object; ${expected}.`);
  return input;
}

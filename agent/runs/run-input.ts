import { RunNotRunnableError } from '../errors.js';
import type { Cryptor } from '../protocol/encryption.js';
import { RunStatus } from '../protocol/run-status.js';
import type { ServerRun } from '../server/types.js';

/**
 * The bytes the algorithm reads from INPUT_FILE: the run's input decrypted (or base64-decoded in
 * an unencrypted collaboration). Unlike upstream, which hands the algorithm the ciphertext when
 * decryption fails, a run whose input cannot be read fails with a log that says why.
 */
export function decodeRunInput(run: ServerRun, cryptor: Cryptor): Buffer {
  if (run.blob_storage_used) {
    throw new RunNotRunnableError(
      RunStatus.Failed,
      'The run input is in the server\'s blob store, which this node does not read yet; ask the researcher to send the input inline.',
    );
  }
  let input: Buffer;
  try {
    input = cryptor.decryptStrToBytes(run.input ?? '');
  } catch (error) {
    const what = cryptor.encrypted ? 'decrypted with this organization\'s private key' : 'decoded as base64';
    throw new RunNotRunnableError(
      RunStatus.Failed,
      `The run input could not be ${what}: ${(error as Error).message}`,
      error,
    );
  }
  try {
    JSON.parse(input.toString('utf8'));
  } catch {
    throw new RunNotRunnableError(
      RunStatus.Failed,
      'The run input is not JSON; vantage6 4.x algorithms read a JSON object such as {"method": …, "kwargs": {…}}.',
    );
  }
  return input;
}

// vantage6 HQ 5.0's virtualenv (test/support/pinned-venv.ts), from requirements.txt.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, ensurePinnedVenv, findPython } from '../support/pinned-venv.js';

/** The vantage6 release the hub tests run against. */
export const HQ_VERSION = '5.0.3';

/** Where the virtualenv lives, one folder per version. */
export function hqVenvDir(): string {
  return join(cacheDir(), `vantage6-hq-${HQ_VERSION}`);
}

/**
 * The virtualenv's python. vantage6-hq 5.0.3 declares Requires-Python >=3.13 (its wheel's
 * METADATA), and does not list vantage6-backend-common, which its code imports
 * (vantage6.backend.common): the requirements name it on their own.
 */
export function ensureHqVenv(): Promise<string> {
  return ensurePinnedVenv({
    dir: hqVenvDir(),
    requirementsFile: fileURLToPath(new URL('requirements.txt', import.meta.url)),
    pins: [`vantage6-hq==${HQ_VERSION}`, `vantage6-backend-common==${HQ_VERSION}`, `vantage6-client==${HQ_VERSION}`],
    python: () => findPython('3.13', 'V6_HQ_PYTHON', `vantage6 HQ ${HQ_VERSION}`),
  });
}

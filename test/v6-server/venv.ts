// The real vantage6 4.x server's virtualenv (test/support/pinned-venv.ts), from requirements.txt.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, ensurePinnedVenv, findPython } from '../support/pinned-venv.js';

/** The vantage6 release the tests run against: the newest 4.x on PyPI when pinned. */
export const VANTAGE6_VERSION = '4.15.2';

/** Where the virtualenv lives: one folder per version in the cache. */
function venvDir(): string {
  return join(cacheDir(), `vantage6-server-${VANTAGE6_VERSION}`);
}

/**
 * The virtualenv's python. vantage6's server images run Python 3.10, and 4.15.2 needs it: on 3.11
 * and later its permission rules are registered as `Operation.CREATE_Scope.GLOBAL` instead of
 * `c_glo` (Enum.__format__ changed), and every create answers 500.
 */
export function ensureServerVenv(): Promise<string> {
  return ensurePinnedVenv({
    dir: venvDir(),
    requirementsFile: fileURLToPath(new URL('requirements.txt', import.meta.url)),
    pins: [`vantage6_server==${VANTAGE6_VERSION}`],
    python: () => findPython('3.10', 'V6_SERVER_PYTHON', `the vantage6 ${VANTAGE6_VERSION} server`),
  });
}

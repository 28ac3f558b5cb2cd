// The vantage6 5 test algorithm (v6_session/, on vantage6-algorithm-tools 5.0.3) as a simulated
// image: what its container image would run, on the host's Python instead of in a container.
import { fileURLToPath } from 'node:url';
import type { SimImage } from '../sim-cluster/image-map.js';

/** The image reference the simulated cluster maps to `sessionImage`. */
export const V6_SESSION_IMAGE = 'v6-test/session:5';

/** The folder holding the v6_session package, for PYTHONPATH. */
export const SESSION_PACKAGE_ROOT = fileURLToPath(new URL('.', import.meta.url));

/** What an algorithm-tools image's CMD runs: the wrapper, which calls `PKG_NAME.<ALGORITHM_METHOD>`. */
const WRAPPER = 'from vantage6.algorithm.tools.wrap import wrap_algorithm; wrap_algorithm()';

/**
 * The image's entry in a simulated cluster's image map. `python` is a Python with
 * vantage6-algorithm-tools 5.0.3, pandas and pyarrow: the 5.0 hub's virtualenv has them
 * (test/v6-hub/venv.ts `ensureHqVenv`). The container runs as the Job's runAsUser, which must be
 * able to read `python`, its base interpreter and `packageRoot`: a virtualenv made under root's
 * home (mode 0700) is not usable by uid 10000.
 */
export function sessionImage(python: string, packageRoot = SESSION_PACKAGE_ROOT): SimImage {
  return {
    command: [python, '-c', WRAPPER],
    args: [],
    // Set in the image, so not encoded; the wrapper leaves values that are not base32 as they are.
    // No bytecode written beside the package, as the real image's read-only root would refuse it.
    env: { PKG_NAME: 'v6_session', PYTHONPATH: packageRoot, PYTHONDONTWRITEBYTECODE: '1' },
  };
}

// The vantage6 5 test algorithm (v6_session/, on vantage6-algorithm-tools 5.0.3) as a simulated
// image: what its container image would run, on the host's Python instead of in a container.
import { fileURLToPath } from 'node:url';
import type { SimImage } from '../sim-cluster/image-map.js';
import type { ReachablePython } from './reachable-python.js';

/** The image reference the simulated cluster maps to `sessionImage`. */
export const V6_SESSION_IMAGE = 'v6-test/session:5';

/** The folder holding the v6_session package, for PYTHONPATH. */
export const SESSION_PACKAGE_ROOT = fileURLToPath(new URL('.', import.meta.url));

/** What an algorithm-tools image's CMD runs: the wrapper, which calls `PKG_NAME.<ALGORITHM_METHOD>`. */
const WRAPPER = 'from vantage6.algorithm.tools.wrap import wrap_algorithm; wrap_algorithm()';

/**
 * The image's entry in a simulated cluster's image map. `python` has vantage6-algorithm-tools
 * 5.0.3, pandas and pyarrow where the Job's runAsUser can run them (reachable-python.ts: the 5.0
 * hub's virtualenv, which lives under root's home, mode 0700). `packageRoot` must be readable by
 * that user too, and not below /tmp, which a pod's scratch volume hides.
 */
export function sessionImage(python: ReachablePython, packageRoot = SESSION_PACKAGE_ROOT): SimImage {
  return {
    command: [python.python, '-c', WRAPPER],
    args: [],
    // Set in the image, so not encoded; the wrapper leaves values that are not base32 as they are.
    // No bytecode written beside the package, as the real image's read-only root would refuse it.
    env: {
      ...python.env,
      PKG_NAME: 'v6_session',
      PYTHONPATH: [packageRoot, python.env.PYTHONPATH].filter(Boolean).join(':'),
      PYTHONDONTWRITEBYTECODE: '1',
    },
  };
}

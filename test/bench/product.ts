// Which build of the product the bench measures, and with which node options. The harness (this
// folder, the dev server, the simulated cluster) is always this checkout's; the processes it
// measures (agent, proxy, CLI) run from V6_BENCH_DIST (default: this checkout's dist/), so the
// same bench measures a baseline revision's build too (baseline.ts). V6_BENCH_NODE_OPTIONS are
// the measured processes' node options; default the image's (Dockerfile NODE_OPTIONS).
import { fileURLToPath, pathToFileURL } from 'node:url';

export const PRODUCTION_NODE_OPTIONS = '--max-semi-space-size=2';

/** The dist/ folder of the build being measured. */
export function productDist(): string {
  return process.env.V6_BENCH_DIST ?? fileURLToPath(new URL('../../dist', import.meta.url));
}

export function productDistUrl(): string {
  return pathToFileURL(productDist()).href;
}

/** Node options for the measured processes. */
export function productNodeArgs(): string[] {
  return (process.env.V6_BENCH_NODE_OPTIONS ?? PRODUCTION_NODE_OPTIONS).split(' ').filter((a) => a !== '');
}

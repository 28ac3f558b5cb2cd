// Test fixture: a simulated cluster per test with client-node clients against it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import { startSimCluster, type SimCluster, type SimClusterOptions } from './index.js';

export interface Fixture {
  cluster: SimCluster;
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  net: NetworkingV1Api;
}

/** Starts a cluster without controllers for the test and tears it down (and its state dir) after it. */
export async function clusterFixture(t: ExecutionContext, options: Omit<SimClusterOptions, 'stateDir'> = {}): Promise<Fixture> {
  const stateDir = await mkdtemp(join(tmpdir(), 'v6-sim-cluster-'));
  const cluster = await startSimCluster({ controllers: () => [], ...options, stateDir });
  t.teardown(async () => {
    await cluster.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return { cluster, kc, core: kc.makeApiClient(CoreV1Api), batch: kc.makeApiClient(BatchV1Api), net: kc.makeApiClient(NetworkingV1Api) };
}

export interface StatusBody { kind: string; status: string; reason: string; code: number; message: string; details?: { name?: string; kind?: string; causes?: Array<{ field: string }> } }

/** The HTTP code and Status body of a failed client-node call. */
export async function failure(call: Promise<unknown>): Promise<{ code: number; status: StatusBody }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    return { code: error.code, status: JSON.parse(error.body as string) as StatusBody };
  }
  throw new Error('the call succeeded');
}

export function podManifest(name: string, labels: Record<string, string> = {}) {
  return { metadata: { name, labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } };
}

export function jobManifest(name: string) {
  return { metadata: { name }, spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] } } } };
}

/** Resolves when `predicate` holds, polling every few ms (no fixed sleeps in tests). */
export async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// What the smoke tests share: kubectl against the cluster under test (KUBECONFIG, or the one
// `npm run cluster:up` made), a namespace of their own per test, and waiting on object state.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { stringify } from 'yaml';
import { BUSYBOX_IMAGE, paths } from '../lib/config.js';
import { CommandError, run } from '../lib/exec.js';
import { ensureKubectl } from '../lib/kubectl.js';

/** The local cluster's, unless KUBECONFIG names another (kind, k3s, microk8s). */
export const KUBECONFIG = process.env.KUBECONFIG ?? paths.kubeconfig;
/** True when the tests run against the cluster `npm run cluster:up` started (its registry is there too). */
export const LOCAL_CLUSTER = process.env.KUBECONFIG === undefined || process.env.KUBECONFIG === paths.kubeconfig;
/** An image with busybox's sh, nc, httpd and nslookup: ours on the local cluster, V6_CLUSTER_TEST_IMAGE elsewhere. */
export const TEST_IMAGE = LOCAL_CLUSTER ? BUSYBOX_IMAGE : (process.env.V6_CLUSTER_TEST_IMAGE ?? 'busybox:1.36');

if (!existsSync(KUBECONFIG)) {
  throw new Error(`no kubeconfig at ${KUBECONFIG}: run \`npm run cluster:up\` first, or set KUBECONFIG to an existing cluster's`);
}

export interface Result {
  stdout: string;
  stderr: string;
  ok: boolean;
}

/** kubectl with the cluster's kubeconfig (or the given one); never throws, the result says how it went. */
export async function kubectlResult(args: string[], options: { input?: string; kubeconfig?: string } = {}): Promise<Result> {
  const bin = await ensureKubectl();
  try {
    const stdout = await run(bin, ['--kubeconfig', options.kubeconfig ?? KUBECONFIG, ...args], { input: options.input, timeoutMs: 120_000 });
    return { stdout, stderr: '', ok: true };
  } catch (error) {
    if (error instanceof CommandError) return { stdout: '', stderr: error.stderr, ok: false };
    throw error;
  }
}

/** kubectl that must succeed: a failure throws with kubectl's own message. */
export async function kubectl(args: string[], options: { input?: string; kubeconfig?: string } = {}): Promise<string> {
  const result = await kubectlResult(args, options);
  if (!result.ok) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Applies objects given as plain values (serialised to YAML). */
export async function apply(namespace: string, ...objects: object[]): Promise<void> {
  await kubectl(['apply', '-n', namespace, '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
}

export async function getJson<T = Record<string, unknown>>(namespace: string, ...what: string[]): Promise<T> {
  return JSON.parse(await kubectl(['get', '-n', namespace, ...what, '-o', 'json'])) as T;
}

/** A fresh namespace for one test, deleted (without waiting) when the test ends. */
export async function testNamespace(t: ExecutionContext, prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = `smoke-${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectl(['apply', '-f', '-'], { input: stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }) });
  // Pods need the namespace's default ServiceAccount, which the controller manager makes.
  await until(`ServiceAccount default in ${name}`, async () => (await kubectlResult(['get', 'sa', 'default', '-n', name])).ok, 30_000);
  t.teardown(async () => {
    await kubectlResult(['delete', 'namespace', name, '--wait=false']);
  });
  return name;
}

/** Polls until check returns true; the error names what never happened. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(300);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

interface PodStatus {
  status: { phase?: string; podIP?: string; containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[] };
}

export async function podStatus(namespace: string, name: string): Promise<PodStatus['status']> {
  return (await getJson<PodStatus>(namespace, 'pod', name)).status;
}

export async function waitForPodPhase(namespace: string, name: string, phase: string, timeoutMs = 90_000): Promise<PodStatus['status']> {
  let status: PodStatus['status'] = {};
  await until(
    `pod ${namespace}/${name} to be ${phase}`,
    async () => {
      status = await podStatus(namespace, name);
      return status.phase === phase;
    },
    timeoutMs,
  );
  return status;
}

/** The securityContext that Pod Security "restricted" asks of a container. */
export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  runAsUser: 65534,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** A pod running one busybox command (restricted-compliant), optionally with labels. */
export function busyboxPod(
  name: string,
  command: string,
  extra: {
    labels?: Record<string, string>;
    image?: string;
    pullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
    /** A PersistentVolumeClaim mounted at /data. */
    claim?: string;
    spec?: object;
  } = {},
): object {
  const claim = extra.claim === undefined ? {} : { volumeMounts: [{ name: 'data', mountPath: '/data' }] };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: extra.labels ?? {} },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'main', image: extra.image ?? TEST_IMAGE, imagePullPolicy: extra.pullPolicy, command: ['sh', '-c', command], securityContext: RESTRICTED_CONTAINER, ...claim },
      ],
      ...(extra.claim === undefined ? {} : { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: extra.claim } }] }),
      ...extra.spec,
    },
  };
}

/** A kubeconfig that authenticates with a bearer token alone (no client certificate), for the same cluster. */
export async function tokenKubeconfig(t: ExecutionContext, token: string): Promise<string> {
  const view = JSON.parse(await kubectl(['config', 'view', '--raw', '--minify', '--flatten', '-o', 'json'])) as {
    clusters: { name: string; cluster: object }[];
  };
  const dir = await mkdtemp(join(tmpdir(), 'v6-smoke-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'kubeconfig');
  const cluster = view.clusters[0];
  if (cluster === undefined) throw new Error(`${KUBECONFIG} names no cluster`);
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [cluster],
      users: [{ name: 'token', user: { token } }],
      contexts: [{ name: 'token', context: { cluster: cluster.name, user: 'token' } }],
      'current-context': 'token',
    }),
  );
  return path;
}

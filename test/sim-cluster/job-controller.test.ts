import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { defaultControllers } from './controllers.js';
import { clusterFixture } from './fixture.js';
import { JOB_TRACKING_FINALIZER } from './job-sync.js';
import { Store, type KubeObject } from './store.js';
import { waitForStore } from './store-wait.js';

async function cluster(t: ExecutionContext): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'v6-jobs-'));
  const store = new Store();
  const controllers = defaultControllers(store, {
    stateDir: dir,
    images: { 'sim/sh': { command: ['/bin/sh', '-c'] } },
    pvcs: {},
    maxGracePeriodMs: 200,
  });
  t.teardown(async () => {
    for (const c of [...controllers].reverse()) await c.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

function job(name: string, script: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: {
      template: { metadata: { labels: { app: 'algo' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'sim/sh', args: [script] }] } },
      ...spec,
    },
  };
}

type Condition = { type: string; status: string; reason?: string; message?: string };
type JobStatus = { conditions?: Condition[]; active?: number; failed?: number; succeeded?: number; startTime?: string; completionTime?: string };

function finished(store: Store, name: string): JobStatus | undefined {
  const status = store.get('jobs', 'default', name)?.['status'] as JobStatus | undefined;
  return status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ? status : undefined;
}

function podsOf(store: Store, name: string): KubeObject[] {
  return store.list('pods', { namespace: 'default', labelSelector: `job-name=${name}` });
}

test('a succeeding Job is Complete with SuccessCriteriaMet, and its pod carries the Job labels and owner', async (t) => {
  const store = await cluster(t);
  store.create('jobs', job('ok', 'exit 0'));
  const status = await waitForStore(store, () => finished(store, 'ok'), 'Complete');
  t.deepEqual(status.conditions!.map((c) => `${c.type}=${c.status}/${c.reason}`), ['SuccessCriteriaMet=True/CompletionsReached', 'Complete=True/CompletionsReached']);
  // A count of 0 is left out of the status, as Go's omitempty encoding leaves it out.
  t.like(status, { active: undefined, succeeded: 1, failed: undefined, ready: 0, terminating: 0 });
  t.truthy(status.startTime);
  t.truthy(status.completionTime);
  const [pod, ...others] = podsOf(store, 'ok');
  t.is(others.length, 0);
  const uid = store.get('jobs', 'default', 'ok')!.metadata.uid!;
  t.regex(pod!.metadata.name!, /^ok-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  t.like(pod!.metadata.labels, { app: 'algo', 'job-name': 'ok', 'batch.kubernetes.io/job-name': 'ok', 'controller-uid': uid, 'batch.kubernetes.io/controller-uid': uid });
  t.like(pod!.metadata.ownerReferences![0], { kind: 'Job', name: 'ok', uid, controller: true });
  t.false((pod!.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER), 'the tracking finalizer is gone once counted');
});

test('a failing container exhausts backoffLimit: two pods, then Failed/BackoffLimitExceeded', async (t) => {
  const store = await cluster(t);
  store.create('jobs', job('bad', 'exit 3', { backoffLimit: 1 }));
  const status = await waitForStore(store, () => finished(store, 'bad'), 'Failed');
  t.deepEqual(status.conditions!.map((c) => `${c.type}=${c.reason}`), ['FailureTarget=BackoffLimitExceeded', 'Failed=BackoffLimitExceeded']);
  t.like(status, { failed: 2, active: undefined });
  t.is(status.completionTime, undefined);
  t.is(podsOf(store, 'bad').length, 2);
});

test('activeDeadlineSeconds fails the Job with DeadlineExceeded and kills the running process', async (t) => {
  const store = await cluster(t);
  store.create('jobs', job('slow', 'sleep 30', { activeDeadlineSeconds: 1 }));
  const status = await waitForStore(store, () => finished(store, 'slow'), 'Failed');
  t.like(status.conditions!.find((c) => c.type === 'Failed'), { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' });
  t.like(status, { failed: 1, active: undefined });
  await waitForStore(store, () => (podsOf(store, 'slow').length === 0 ? true : undefined), 'the killed pod to be deleted');
});

test('podFailurePolicy FailJob on an exit code fails at once despite backoffLimit', async (t) => {
  const store = await cluster(t);
  const policy = { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } }] };
  store.create('jobs', job('fatal', 'exit 42', { backoffLimit: 6, podFailurePolicy: policy }));
  const status = await waitForStore(store, () => finished(store, 'fatal'), 'Failed');
  t.like(status.conditions!.find((c) => c.type === 'Failed'), {
    reason: 'PodFailurePolicy',
    message: `Container main for pod default/${podsOf(store, 'fatal')[0]!.metadata.name} failed with exit code 42 matching FailJob rule at index 0`,
  });
  t.is(podsOf(store, 'fatal').length, 1);
});

test('ttlSecondsAfterFinished deletes the finished Job and garbage-collects its pods', async (t) => {
  const store = await cluster(t);
  store.create('jobs', job('short-lived', 'exit 0', { ttlSecondsAfterFinished: 0 }));
  await waitForStore(store, () => (podsOf(store, 'short-lived').length > 0 ? true : undefined), 'a pod');
  await waitForStore(
    store,
    () => (store.get('jobs', 'default', 'short-lived') === undefined && podsOf(store, 'short-lived').length === 0 ? true : undefined),
    'Job and pods to be gone',
  );
  t.pass();
});

test('a suspended Job creates no pods until resumed', async (t) => {
  const store = await cluster(t);
  store.create('jobs', job('later', 'exit 0', { suspend: true }));
  const suspended = await waitForStore(store, () => (store.get('jobs', 'default', 'later')?.['status'] as JobStatus).conditions?.find((c) => c.type === 'Suspended'), 'Suspended');
  t.is(suspended.status, 'True');
  t.is(podsOf(store, 'later').length, 0);
  store.update('jobs', 'default', 'later', (draft) => { (draft['spec'] as { suspend: boolean }).suspend = false; });
  const status = await waitForStore(store, () => finished(store, 'later'), 'Complete');
  t.like(status.conditions!.find((c) => c.type === 'Suspended'), { status: 'False', reason: 'JobResumed' });
});

test('end to end through the API server: a Job created with client-node reads a Secret and a PVC subPath, writes its output, and its log is served', async (t) => {
  const pvcDir = await mkdtemp(join(tmpdir(), 'v6-e2e-pvc-'));
  t.teardown(() => rm(pvcDir, { recursive: true, force: true }));
  await mkdir(join(pvcDir, 'task-7'));
  await writeFile(join(pvcDir, 'task-7', 'input.txt'), 'forty-two');
  const f = await clusterFixture(t, {
    images: { 'harbor.example.org/algo:1': { command: [process.execPath], args: ['--version'] } },
    pvcs: { 'task-data': pvcDir },
    controllers: (store, options) => defaultControllers(store, { ...options, maxGracePeriodMs: 200 }),
  });
  await f.core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'run-7' }, stringData: { 'token': 'abc' } } });
  const script = [
    "const fs = require('node:fs');",
    "const input = fs.readFileSync('/mnt/data/input.txt', 'utf8');",
    "const token = fs.readFileSync('/var/run/secrets/v6/token', 'utf8');",
    "fs.writeFileSync('/mnt/data/output.txt', `${input}:${token}`);",
    "console.log('wrote output');",
  ].join(' ');
  await f.batch.createNamespacedJob({
    namespace: 'default',
    body: {
      metadata: { name: 'run-7' },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [{
              name: 'algorithm', image: 'harbor.example.org/algo:1', args: ['-e', script],
              volumeMounts: [
                { name: 'data', mountPath: '/mnt/data', subPath: 'task-7' },
                { name: 'token', mountPath: '/var/run/secrets/v6', readOnly: true },
              ],
            }],
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'task-data' } }, { name: 'token', secret: { secretName: 'run-7' } }],
          },
        },
      },
    },
  });
  await waitForStore(f.cluster.store, () => finished(f.cluster.store, 'run-7'), 'run-7 to finish');
  const read = await f.batch.readNamespacedJobStatus({ name: 'run-7', namespace: 'default' });
  t.true(read.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'));
  t.is(read.status?.succeeded, 1);
  t.is(await readFile(join(pvcDir, 'task-7', 'output.txt'), 'utf8'), 'forty-two:abc');
  const [pod] = podsOf(f.cluster.store, 'run-7');
  t.is(await f.core.readNamespacedPodLog({ name: pod!.metadata.name!, namespace: 'default' }), 'wrote output\n');
});

import test from 'ava';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { cachedJob, cachedPod } from './cached-objects.js';
import { observedRunStatus } from './observed-status.js';

const managedFields = [{ manager: 'kube-controller-manager', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:active': {} } } }];
const bulkyContainer = {
  name: 'algorithm',
  image: 'harbor2.vantage6.ai/demo/average@sha256:abc',
  resources: { limits: { memory: '4Gi' } },
  env: [{ name: 'INPUT_FILE', value: 'x'.repeat(1000) }],
  volumeMounts: [{ name: 'task', mountPath: '/mnt/data' }],
};

const job: V1Job = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    name: 'v6-node-7-run-1',
    namespace: 'vantage6',
    uid: 'u-1',
    resourceVersion: '42',
    labels: { 'vantage6.ai/run-id': '1' },
    annotations: { 'vantage6.ai/image': 'harbor2.vantage6.ai/demo/average' },
    creationTimestamp: new Date('2026-01-01T00:00:00Z'),
    managedFields,
  },
  spec: { activeDeadlineSeconds: 60, backoffLimit: 0, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [bulkyContainer], volumes: [{ name: 'task', emptyDir: {} }], restartPolicy: 'Never' } } },
  status: { active: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] },
};

const pod: V1Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'v6-node-7-run-1-abcde', namespace: 'vantage6', uid: 'p-1', resourceVersion: '43', labels: { 'vantage6.ai/run-id': '1' }, creationTimestamp: new Date('2026-01-01T00:00:01Z'), managedFields },
  spec: { containers: [bulkyContainer], nodeName: 'worker-1', volumes: [{ name: 'task', emptyDir: {} }], restartPolicy: 'Never' },
  status: { phase: 'Failed', containerStatuses: [{ name: 'algorithm', image: bulkyContainer.image, imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] },
};

test('a cached Job keeps what the agent reads and drops managed fields and the pod template', (t) => {
  const cached = cachedJob(structuredClone(job));
  t.deepEqual(cached, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'v6-node-7-run-1', namespace: 'vantage6', uid: 'u-1', resourceVersion: '42', labels: job.metadata!.labels!, annotations: job.metadata!.annotations!, creationTimestamp: job.metadata!.creationTimestamp! },
    spec: { activeDeadlineSeconds: 60, backoffLimit: 0, template: { spec: { containers: [{ name: 'algorithm', image: bulkyContainer.image, resources: { limits: { memory: '4Gi' } } }], restartPolicy: 'Never' } } },
    status: job.status!,
  });
  t.true(JSON.stringify(cached).length < JSON.stringify(job).length / 2);
});

test('a cached pod keeps its containers, node and status, without env, volumes or managed fields', (t) => {
  const cached = cachedPod(structuredClone(pod));
  t.is(cached.metadata?.managedFields, undefined);
  t.is(cached.spec?.volumes, undefined);
  t.is(cached.spec?.containers[0]?.env, undefined);
  t.is(cached.spec?.nodeName, 'worker-1');
  t.deepEqual(cached.status, pod.status);
});

test('the run status observed from cached objects is the one observed from the full objects', (t) => {
  for (const [j, p] of [
    [job, pod],
    [{ ...job, status: { active: 1 } }, { ...pod, status: { phase: 'Pending', containerStatuses: [{ name: 'algorithm', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'no such image' } } }] } }],
    [{ ...job, status: { active: 1 } }, { ...pod, status: { phase: 'Running' } }],
  ] as [V1Job, V1Pod][]) {
    t.deepEqual(observedRunStatus(cachedJob(structuredClone(j)), [cachedPod(structuredClone(p))]), observedRunStatus(j, [p]));
  }
});

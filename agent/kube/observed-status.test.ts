import test from 'ava';
import type { V1ContainerState, V1Job, V1JobCondition, V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { RunStatus } from '../protocol/run-status.js';
import { GATE_CONTAINER } from '../isolation/gate.js';
import { observedRunStatus } from './observed-status.js';

function job(conditions: V1JobCondition[] = [], activeDeadlineSeconds = 3600): V1Job {
  return {
    metadata: { name: 'v6-node-1-run-1' },
    spec: { activeDeadlineSeconds, template: {} },
    status: { conditions },
  };
}

function condition(type: string, reason?: string, status = 'True'): V1JobCondition {
  return { type, status, ...(reason === undefined ? {} : { reason }) };
}

function pod(phase: string | undefined, state?: V1ContainerState, status: Partial<V1PodStatus> = {}, created = '2025-01-01T00:00:00Z', name = 'p'): V1Pod {
  return {
    metadata: { name, creationTimestamp: new Date(created) },
    spec: { containers: [{ name: 'algorithm', image: 'harbor2.vantage6.ai/demo/average', resources: { limits: { memory: '4Gi' } } }] },
    status: {
      ...(phase === undefined ? {} : { phase }),
      ...(state === undefined ? {} : { containerStatuses: [{ name: 'algorithm', image: 'harbor2.vantage6.ai/demo/average', imageID: '', ready: false, restartCount: 0, state }] }),
      ...status,
    },
  };
}

const waiting = (reason?: string): V1ContainerState => ({ waiting: reason === undefined ? {} : { reason, message: 'details' } });
const terminated = (exitCode: number, reason?: string): V1ContainerState => ({ terminated: { exitCode, ...(reason === undefined ? {} : { reason }) } });
/** The isolation gate's status, as the pod's only init container. */
const gate = (state: V1ContainerState): Partial<V1PodStatus> => ({
  initContainerStatuses: [{ name: GATE_CONTAINER, image: 'v6-node:0.1.0', imageID: '', ready: false, restartCount: 0, state }],
});
const GATE_SAID = 'the pod still reached 10.43.0.1:443 60 s after it started: its NetworkPolicies are not in effect, so the algorithm was not started';

interface Row {
  title: string;
  job: V1Job | undefined;
  pods: V1Pod[];
  status: RunStatus;
  reason?: RegExp;
}

const rows: Row[] = [
  // spec C1 (upstream's six cases)
  { title: 'C1: Running', job: job(), pods: [pod('Running', { running: {} })], status: RunStatus.Active },
  { title: 'C1: Pending without container statuses', job: job(), pods: [pod('Pending')], status: RunStatus.Initializing },
  { title: 'C1: Pending, ImagePullBackOff', job: job(), pods: [pod('Pending', waiting('ImagePullBackOff'))], status: RunStatus.NoDockerImage, reason: /harbor2\.vantage6\.ai\/demo\/average cannot be pulled \(ImagePullBackOff\): details/ },
  { title: 'C1: Pending, container state without waiting', job: job(), pods: [pod('Pending', {})], status: RunStatus.Initializing },
  { title: 'C1: Pending, CrashLoopBackOff', job: job(), pods: [pod('Pending', waiting('CrashLoopBackOff'))], status: RunStatus.Crashed },
  { title: "C1: upstream's misspelt phase Succeded is not a phase", job: job(), pods: [pod('Succeded')], status: RunStatus.UnknownError, reason: /unrecognised phase \(Succeded\)/ },
  // spec C1 additions
  { title: 'Succeeded (the real phase) is completed', job: job(), pods: [pod('Succeeded', terminated(0, 'Completed'))], status: RunStatus.Completed },
  { title: 'Pending, ContainerCreating', job: job(), pods: [pod('Pending', waiting('ContainerCreating'))], status: RunStatus.Initializing },
  { title: 'Pending, PodInitializing', job: job(), pods: [pod('Pending', waiting('PodInitializing'))], status: RunStatus.Initializing },
  { title: 'Pending, waiting without reason', job: job(), pods: [pod('Pending', waiting())], status: RunStatus.Initializing },
  { title: 'Pending, ErrImagePull', job: job(), pods: [pod('Pending', waiting('ErrImagePull'))], status: RunStatus.NoDockerImage },
  { title: 'Pending, InvalidImageName', job: job(), pods: [pod('Pending', waiting('InvalidImageName'))], status: RunStatus.NoDockerImage },
  { title: 'Pending, ErrImageNeverPull', job: job(), pods: [pod('Pending', waiting('ErrImageNeverPull'))], status: RunStatus.NoDockerImage },
  { title: 'Pending, CreateContainerConfigError', job: job(), pods: [pod('Pending', waiting('CreateContainerConfigError'))], status: RunStatus.Crashed, reason: /cannot be started \(CreateContainerConfigError\)/ },
  { title: 'Pending, CreateContainerError', job: job(), pods: [pod('Pending', waiting('CreateContainerError'))], status: RunStatus.Crashed },
  { title: 'Pending, RunContainerError', job: job(), pods: [pod('Pending', waiting('RunContainerError'))], status: RunStatus.Crashed },
  { title: 'Pending, ContainerCannotRun', job: job(), pods: [pod('Pending', waiting('ContainerCannotRun'))], status: RunStatus.Crashed },
  { title: 'Pending, an unrecognised waiting reason', job: job(), pods: [pod('Pending', waiting('SomethingNew'))], status: RunStatus.UnknownError, reason: /SomethingNew/ },
  {
    title: 'Pending and unschedulable: still initializing, with the scheduler message',
    job: job(),
    pods: [pod('Pending', undefined, { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] })],
    status: RunStatus.Initializing,
    reason: /cannot be scheduled yet \(Unschedulable\): 0\/3 nodes are available/,
  },
  { title: 'Failed phase', job: job(), pods: [pod('Failed')], status: RunStatus.Failed },
  { title: 'Unknown phase', job: job(), pods: [pod('Unknown')], status: RunStatus.UnknownError },
  { title: 'no phase at all', job: job(), pods: [pod(undefined)], status: RunStatus.UnknownError },
  // terminated containers
  { title: 'container exited non-zero', job: job(), pods: [pod('Failed', terminated(1, 'Error'))], status: RunStatus.Crashed, reason: /exited with code 1 \(Error\)/ },
  { title: 'container OOMKilled names the memory limit', job: job(), pods: [pod('Failed', terminated(137, 'OOMKilled'))], status: RunStatus.Crashed, reason: /out of memory \(OOMKilled\); its memory limit is 4Gi/ },
  { title: 'container terminated while the pod still shows Running', job: job(), pods: [pod('Running', terminated(2))], status: RunStatus.Crashed, reason: /exited with code 2$/ },
  { title: 'container exited 0 while the pod still shows Running', job: job(), pods: [pod('Running', terminated(0, 'Completed'))], status: RunStatus.Completed },
  { title: 'pod evicted', job: job(), pods: [pod('Failed', undefined, { reason: 'Evicted', message: 'The node was low on resource: memory.' })], status: RunStatus.Failed, reason: /^Pod was evicted: The node was low/ },
  { title: 'pod failed without a terminated container', job: job(), pods: [pod('Failed', waiting('ContainerCreating'), { reason: 'NodeLost' })], status: RunStatus.Failed, reason: /without its container terminating \(NodeLost\)/ },
  // Job conditions
  { title: 'Job Complete', job: job([condition('Complete')]), pods: [], status: RunStatus.Completed },
  { title: 'Job SuccessCriteriaMet', job: job([condition('SuccessCriteriaMet')]), pods: [pod('Running', { running: {} })], status: RunStatus.Completed },
  { title: 'Job Failed with DeadlineExceeded', job: job([condition('Failed', 'DeadlineExceeded')]), pods: [pod('Running', { running: {} })], status: RunStatus.Failed, reason: /^Job exceeded its active deadline of 3600 s$/ },
  { title: 'Job FailureTarget with DeadlineExceeded', job: job([condition('FailureTarget', 'DeadlineExceeded')], 60), pods: [], status: RunStatus.Failed, reason: /deadline of 60 s/ },
  { title: 'Job BackoffLimitExceeded without a pod', job: job([condition('Failed', 'BackoffLimitExceeded')]), pods: [], status: RunStatus.Crashed, reason: /^Job failed \(BackoffLimitExceeded\)/ },
  { title: 'Job BackoffLimitExceeded: the pod says why', job: job([condition('Failed', 'BackoffLimitExceeded')]), pods: [pod('Failed', terminated(3, 'Error'))], status: RunStatus.Crashed, reason: /exited with code 3/ },
  { title: 'Job BackoffLimitExceeded after an eviction', job: job([condition('Failed', 'BackoffLimitExceeded')]), pods: [pod('Failed', undefined, { reason: 'Evicted' })], status: RunStatus.Failed, reason: /evicted/ },
  { title: 'Job failed while its pod still looks alive', job: job([condition('Failed', 'BackoffLimitExceeded')]), pods: [pod('Running', { running: {} })], status: RunStatus.Crashed },
  { title: 'a condition that is not True is ignored', job: job([condition('Failed', 'DeadlineExceeded', 'False')]), pods: [pod('Running', { running: {} })], status: RunStatus.Active },
  { title: 'pod Succeeded before the Job is marked Complete', job: job(), pods: [pod('Succeeded')], status: RunStatus.Completed },
  // the isolation gate (agent/isolation/gate.ts)
  { title: 'gate running: initializing', job: job(), pods: [pod('Pending', waiting('PodInitializing'), gate({ running: {} }))], status: RunStatus.Initializing },
  { title: 'gate passed, algorithm running', job: job(), pods: [pod('Running', { running: {} }, gate(terminated(0, 'Completed')))], status: RunStatus.Active },
  {
    title: 'gate found the pod not isolated: start failed, in its words',
    job: job([condition('Failed', 'BackoffLimitExceeded')]),
    pods: [pod('Failed', waiting('PodInitializing'), gate({ terminated: { exitCode: 1, reason: 'Error', message: `{"noise":1}\n${GATE_SAID}\n` } }))],
    status: RunStatus.StartFailed,
    reason: new RegExp(`^Algorithm container was not started: ${GATE_SAID}$`),
  },
  { title: 'gate failed without a message', job: job(), pods: [pod('Failed', waiting('PodInitializing'), gate(terminated(137, 'OOMKilled')))], status: RunStatus.StartFailed, reason: /isolation gate exited with code 137 \(OOMKilled\)/ },
  { title: "gate's image cannot be pulled: start failed, naming isolation.image", job: job(), pods: [pod('Pending', waiting('PodInitializing'), gate(waiting('ImagePullBackOff')))], status: RunStatus.StartFailed, reason: /image v6-node:0\.1\.0, isolation\.image\) cannot start \(ImagePullBackOff\): details/ },
  // Job and pods present or not
  { title: 'Job without a pod yet', job: job(), pods: [], status: RunStatus.Initializing },
  { title: 'no Job', job: undefined, pods: [], status: RunStatus.UnknownError, reason: /Job no longer exists/ },
  {
    title: 'the newest pod decides',
    job: job(),
    pods: [pod('Failed', undefined, { reason: 'Evicted' }, '2025-01-01T00:00:00Z', 'a'), pod('Running', { running: {} }, {}, '2025-01-01T00:05:00Z', 'b')],
    status: RunStatus.Active,
  },
];

const alive: RunStatus[] = [RunStatus.Initializing, RunStatus.Active];

for (const row of rows) {
  test(row.title, (t) => {
    const observed = observedRunStatus(row.job, row.pods);
    t.is(observed.status, row.status);
    t.is(observed.finished, !alive.includes(row.status), 'finished unless initializing or active');
    t.true(observed.reason.length > 0);
    if (row.reason !== undefined) t.regex(observed.reason, row.reason);
  });
}

test('an OOM kill without a memory limit says so', (t) => {
  const noLimit = pod('Failed', terminated(137, 'OOMKilled'));
  noLimit.spec!.containers[0]!.resources = {};
  t.regex(observedRunStatus(job(), [noLimit]).reason, /no memory limit was set/);
});

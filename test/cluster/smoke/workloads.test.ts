// The controllers are real: the Job controller runs a Job to completion, the garbage collector
// removes its pods with it, and the TTL-after-finished controller deletes a finished Job.
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { RESTRICTED_CONTAINER, TEST_IMAGE, apply, getJson, kubectl, kubectlResult, testNamespace, until } from './kube.js';

function job(name: string, extra: object = {}): object {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit: 0,
      ...extra,
      template: {
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: TEST_IMAGE, command: ['sh', '-c', 'echo done'], securityContext: RESTRICTED_CONTAINER }],
        },
      },
    },
  };
}

interface JobStatus {
  status: { succeeded?: number; conditions?: { type: string; status: string }[] };
}

const complete = async (ns: string, name: string) =>
  ((await getJson<JobStatus>(ns, 'job', name)).status.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True');

const podsOf = async (ns: string, name: string) => (await getJson<{ items: unknown[] }>(ns, 'pods', '-l', `job-name=${name}`)).items.length;

test('a Job completes, and deleting it collects its pods', async (t) => {
  const ns = await testNamespace(t, 'job');
  await apply(ns, job('once'));
  await until('Job once to complete', () => complete(ns, 'once'));
  t.is((await getJson<JobStatus>(ns, 'job', 'once')).status.succeeded, 1);
  t.is(await podsOf(ns, 'once'), 1);
  t.is((await kubectl(['logs', '-n', ns, 'job/once'])).trim(), 'done');

  await kubectl(['delete', 'job', 'once', '-n', ns, '--cascade=background', '--wait=false']);
  await until('the garbage collector to delete the pods of Job once', async () => (await podsOf(ns, 'once')) === 0);
  t.pass();
});

// A kubelet's container GC runs once a minute and removes the log folders of the pods it thinks
// gone; a finished pod's log must outlast that on every node (the local cluster once shared one
// log folder between its kubelets, and each deleted the other's pods' logs).
const CONTAINER_GC_PERIOD_MS = 60_000;

test("a finished pod's log is still there after every kubelet's container GC has run", async (t) => {
  const ns = await testNamespace(t, 'log');
  await apply(ns, job('kept'));
  await until('Job kept to complete', () => complete(ns, 'kept'));
  await sleep(CONTAINER_GC_PERIOD_MS + 10_000);
  t.is((await kubectl(['logs', '-n', ns, 'job/kept'])).trim(), 'done');
});

test('TTL-after-finished deletes a finished Job', async (t) => {
  const ns = await testNamespace(t, 'ttl');
  await apply(ns, job('short-lived', { ttlSecondsAfterFinished: 5 }));
  await until('Job short-lived to complete', async () => (await kubectlResult(['get', 'job', 'short-lived', '-n', ns])).ok && (await complete(ns, 'short-lived')));
  await until('the TTL controller to delete Job short-lived', async () => !(await kubectlResult(['get', 'job', 'short-lived', '-n', ns])).ok);
  await until('its pod to go with it', async () => (await podsOf(ns, 'short-lived')) === 0);
  t.pass();
});

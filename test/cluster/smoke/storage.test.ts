// PersistentVolumeClaims are real: the default StorageClass (local-path-provisioner) provisions
// a volume when a pod uses the claim, and what one pod writes the next one reads.
import test from 'ava';
import { apply, busyboxPod, getJson, kubectl, testNamespace, waitForPodPhase } from './kube.js';

const once = { restartPolicy: 'Never', securityContext: { fsGroup: 65534 } };

test('a claim on the default StorageClass is provisioned and keeps what a pod wrote', async (t) => {
  const ns = await testNamespace(t, 'pvc');
  await apply(ns, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } },
  });
  await apply(ns, busyboxPod('writer', 'echo kept > /data/file', { claim: 'data', spec: once }));
  await waitForPodPhase(ns, 'writer', 'Succeeded', 120_000);
  t.is((await getJson<{ status: { phase: string } }>(ns, 'pvc', 'data')).status.phase, 'Bound');
  await apply(ns, busyboxPod('reader', 'cat /data/file', { claim: 'data', spec: once }));
  await waitForPodPhase(ns, 'reader', 'Succeeded', 120_000);
  t.is((await kubectl(['logs', '-n', ns, 'reader'])).trim(), 'kept');
});

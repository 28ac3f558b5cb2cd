// Image pulls are real: an image in the local registry (basic auth) pulls with an
// imagePullSecret and imagePullPolicy Always, and fails without the secret. Local cluster only:
// elsewhere there is no registry of ours to push to.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { REGISTRY, REGISTRY_PASSWORD, REGISTRY_USER } from '../lib/config.js';
import { busyboxImage, pushImage } from '../lib/images.js';
import { LOCAL_CLUSTER, apply, busyboxPod, getJson, kubectl, testNamespace, until, waitForPodPhase } from './kube.js';

const localOnly = LOCAL_CLUSTER ? test : test.skip;

localOnly('an image pulls from the registry with a pull secret and fails without one', async (t) => {
  const ns = await testNamespace(t, 'pull');
  const tag = randomBytes(3).toString('hex');
  const { reference: image } = await pushImage(busyboxImage(`v6.local/smoke:${tag}`), `smoke/busybox:${tag}`);
  await kubectl(['create', 'secret', 'docker-registry', 'registry', '-n', ns, `--docker-server=${REGISTRY}`, `--docker-username=${REGISTRY_USER}`, `--docker-password=${REGISTRY_PASSWORD}`]);
  const pod = (name: string, imagePullSecrets: object[]) => busyboxPod(name, 'sleep 3600', { image, pullPolicy: 'Always', spec: { imagePullSecrets } });
  await apply(ns, pod('with-secret', [{ name: 'registry' }]), pod('without-secret', []));
  await waitForPodPhase(ns, 'with-secret', 'Running');

  let failures: string[] = [];
  await until('the pull without a secret to fail', async () => {
    const events = await getJson<{ items: { message: string }[] }>(ns, 'events', '--field-selector', 'involvedObject.name=without-secret,reason=Failed');
    failures = events.items.map((e) => e.message);
    return failures.length > 0;
  });
  t.regex(failures.join('\n'), /401 Unauthorized/);
});

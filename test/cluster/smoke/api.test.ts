// The API server is real: kubectl's protobuf requests, validation, Pod Security admission and the
// RBAC authorizer answer as a production cluster's do.
import test from 'ava';
import { render } from '../../helm/render.js';
import { TEST_IMAGE, apply, busyboxPod, getJson, kubectl, kubectlResult, testNamespace, tokenKubeconfig, waitForPodPhase } from './kube.js';

test('kubectl create secret generic stores the secret', async (t) => {
  const ns = await testNamespace(t, 'secret');
  await kubectl(['create', 'secret', 'generic', 'demo', '-n', ns, '--from-literal=token=s3cret']);
  const secret = await getJson<{ data: Record<string, string> }>(ns, 'secret', 'demo');
  t.is(Buffer.from(secret.data.token ?? '', 'base64').toString(), 's3cret');
});

test('Pod Security "restricted" admits a compliant pod, which runs, and rejects a privileged one', async (t) => {
  const ns = await testNamespace(t, 'psa', { 'pod-security.kubernetes.io/enforce': 'restricted' });
  await apply(ns, busyboxPod('compliant', 'id -u; sleep 3600'));
  await waitForPodPhase(ns, 'compliant', 'Running');
  t.is((await kubectl(['logs', '-n', ns, 'compliant'])).trim(), '65534');

  const privileged = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'privileged' },
    spec: { containers: [{ name: 'main', image: TEST_IMAGE, command: ['sleep', '3600'], securityContext: { privileged: true } }] },
  };
  const refused = await kubectlResult(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(privileged) });
  t.false(refused.ok);
  t.regex(refused.stderr, /violates PodSecurity "restricted:latest": privileged/);
  t.false((await kubectlResult(['get', 'pod', 'privileged', '-n', ns])).ok);
});

test('a ServiceAccount bound to the chart\'s Role may do what the Role allows and is refused 403 elsewhere', async (t) => {
  const ns = await testNamespace(t, 'rbac');
  const other = await testNamespace(t, 'rbac-other');
  const chart = await render({ namespace: ns });
  const rbac = chart.filter((o) => ['Role', 'RoleBinding', 'ServiceAccount'].includes(o.kind));
  t.deepEqual(rbac.map((o) => o.kind).sort(), ['Role', 'RoleBinding', 'ServiceAccount']);
  await apply(ns, ...rbac);
  const account = rbac.find((o) => o.kind === 'ServiceAccount')?.metadata.name ?? '';
  const token = (await kubectl(['create', 'token', account, '-n', ns, '--duration=10m'])).trim();
  const asAgent = await tokenKubeconfig(t, token);

  // Allowed by the Role: list Jobs and pods, create a Secret, in its own namespace.
  await kubectl(['get', 'jobs', '-n', ns], { kubeconfig: asAgent });
  await kubectl(['get', 'pods', '-n', ns], { kubeconfig: asAgent });
  await kubectl(['create', 'secret', 'generic', 'run-token', '-n', ns, '--from-literal=t=x'], { kubeconfig: asAgent });

  const refusals: [string, string[]][] = [
    ['read back a Secret', ['get', 'secret', 'run-token', '-n', ns]],
    ['list Jobs in another namespace', ['get', 'jobs', '-n', other]],
    ['create a pod', ['run', 'x', '-n', ns, `--image=${TEST_IMAGE}`, '--restart=Never']],
    ['list nodes', ['get', 'nodes']],
    ['create a namespace', ['create', 'namespace', `${ns}-x`]],
  ];
  for (const [what, args] of refusals) {
    const result = await kubectlResult([...args, '-v=6'], { kubeconfig: asAgent });
    t.false(result.ok, what);
    t.regex(result.stderr, /status="403 Forbidden"/, what);
  }
});

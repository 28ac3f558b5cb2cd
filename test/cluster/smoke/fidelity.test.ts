// The simulated cluster (test/sim-cluster) is held to the real one: the same conversation with
// both, compared (test/sim-cluster/fidelity/). The real cluster's answers are also kept in the
// repository for the fast tier; V6_KUBE_RECORD=1 rewrites them from this cluster.
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import { converse } from '../../sim-cluster/fidelity/conversation.js';
import { readRecording, writeRecording } from '../../sim-cluster/fidelity/recording.js';
import { MISSING_IMAGE, converseWithSimulation } from '../../sim-cluster/fidelity/sim-target.js';
import { KUBECONFIG, LOCAL_CLUSTER, TEST_IMAGE, kubectl, testNamespace } from './kube.js';

// Another cluster's messages name its own nodes, images and registry: only the local one is recorded.
const localOnly = LOCAL_CLUSTER ? test : test.skip;

/** The steps whose answers differ between two records. */
function differingSteps(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((step) => !isDeepStrictEqual(a[step], b[step]));
}

localOnly('the simulation answers as this cluster does, and this cluster as recorded in test/fixtures/kube-conversation.json', async (t) => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(KUBECONFIG);
  const kubernetes = (JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
  const simulated = await converseWithSimulation();
  const converseWithCluster = async () => {
    const namespace = await testNamespace(t, 'fidelity', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    return converse({ kubeConfig, namespace, image: TEST_IMAGE, missingImage: MISSING_IMAGE, timeoutMs: 120_000 });
  };
  // A real cluster's components act on their own time (events, status writes): one more
  // conversation when the first differs, the first difference logged; a difference that is
  // there twice is the simulation's.
  let real = await converseWithCluster();
  const first = differingSteps(simulated, real);
  if (first.length > 0 && process.env.V6_KUBE_RECORD !== '1') {
    t.log(`the first conversation differed in: ${first.join('; ')}\n${JSON.stringify(Object.fromEntries(first.map((step) => [step, { real: real[step], simulated: simulated[step] }])), null, 1)}`);
    real = await converseWithCluster();
  }
  if (process.env.V6_KUBE_RECORD === '1') t.log(`recorded into ${await writeRecording({ kubernetes, record: real })}`);

  t.deepEqual(simulated, real, 'the simulation differs from the real cluster');
  const recording = await readRecording();
  t.deepEqual({ kubernetes, record: real }, recording, 'the real cluster differs from the recording: V6_KUBE_RECORD=1 npm run test:cluster -- test/cluster/smoke/fidelity.test.ts rewrites it');
});

// Upstream's vantage6-node 5.0.3 beside our node on the real cluster, at the same real hub
// (beside.ts): vantage6's Python client 5.0.3 runs the same session (session_flow.py: extraction
// at both organizations, preprocessing, a central average whose subtasks go to both through the
// node's proxy) with the same v6_session image in our nodes' collaboration and in upstream's, and
// both give the same answers.
import test from 'ava';
import { COLD_START_MS } from '../../v6-hub/hub.js';
import { loginPerson } from '../../v6-hub/fixtures.js';
import { HUB_ADMIN } from '../../v6-hub/realm.js';
import { assertSessionFlowCompleted, sessionFlow, type Flow } from '../../v6-hub/session-flow.js';
import { v6SessionImage } from '../algorithms/session-algorithm-image.js';
import { until } from '../smoke/kube.js';
import { startBeside, type Beside } from './beside.js';

let beside: Beside;

test.before(async (t) => {
  t.timeout(COLD_START_MS + 15 * 60_000, 'the nodes did not start');
  beside = await startBeside({ algorithms: { session: v6SessionImage(undefined, false) } });
});

test.after.always(async () => {
  await beside?.close();
});

const flowIn = (collaborationId: number): Promise<Flow> =>
  // A node's first run pulls the image (require_algorithm_pull): minutes on a cold node.
  sessionFlow(beside.world.hub, { collaborationId, image: beside.world.images.algorithms.session!, timeoutSeconds: 300 });

/** What a flow says apart from ids: each step's run statuses and actions, the dataframe's columns, the result. */
function outcome(flow: Flow) {
  return {
    runs: Object.fromEntries(
      Object.entries(flow.tasks).map(([what, task]) => [what.startsWith('subtask') ? 'subtask' : what, task.runs.map((r) => `${r.action}:${r.status}`).sort()]),
    ),
    columns: flow.dataframe.after_preprocessing.columns.map((c) => `${c.name}:${c.dtype}`).sort(),
    result: flow.result,
  };
}

test.serial("upstream's nodes log in through Keycloak and are online at HQ", async (t) => {
  const { hub } = beside.world;
  const hq = await loginPerson(`${hub.url}${hub.apiPath}`, hub.keycloakUrl, hub.realm, HUB_ADMIN.username, HUB_ADMIN.password);
  for (const node of beside.nodesIn(beside.collaborations.upstream)) {
    const status = async () => (await hq.request<{ status: string }>('GET', `node/${node.id}`)).status;
    await until(`node ${node.name} online`, async () => (await status()) === 'online', 180_000);
    t.is(await status(), 'online', node.name);
  }
});

test.serial('the same session gives the same answers on upstream\'s nodes as on ours', async (t) => {
  t.timeout(20 * 60_000);
  const ours = await flowIn(beside.collaborations.ours);
  const upstream = await flowIn(beside.collaborations.upstream).catch(async (error: Error) => {
    const logs = await Promise.all([...beside.upstream.values()].map((node) => node.log().catch((e: Error) => e.message)));
    throw new Error(`${error.message}\n=== upstream nodes ===\n${logs.map((l) => l.slice(-4000)).join('\n---\n')}`);
  });
  assertSessionFlowCompleted(t, ours);
  assertSessionFlowCompleted(t, upstream);
  t.deepEqual(outcome(upstream), outcome(ours));
});

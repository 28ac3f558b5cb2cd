// Our node beside upstream's vantage6-node 5.0.3 on the real cluster, at the same real hub
// (test/cluster/upstream-node/beside.ts), measured in one run: on each kind of node, Alpha's node
// gets the same runs one after the other — a session with one extraction (read_csv), then
// `runs` federated_compute tasks of `partial_sum` on its dataframe, each created once the one
// before has finished. One at a time because upstream's node reports only the last of the Jobs it
// finds finished in one poll (the others' results would be lost; README beside the test), so runs
// in parallel could leave its figures to that race; one at a time, both nodes do the same work.
// With `together` every task is created at once instead, as a researcher's burst of work arrives:
// what each node makes of a queue, and whether upstream loses any; a run not finished by the
// deadline counts as not completed and its node's wall time is that of the runs that finished.
//
// For each node: the wall time of the runs (the first task created → the last run's finished_at at HQ),
// the Kubernetes API requests its service accounts made (kube-api-relay.ts), and the CPU seconds
// and peak RSS of its pods (pod-cgroup.ts: ours is the node pod, agent and proxy, with Redis
// apart; upstream's is one pod). Algorithm pods are not counted for either.
import { setTimeout as sleep } from 'node:timers/promises';
import { v6SessionImage } from '../cluster/algorithms/session-algorithm-image.js';
import { kubectl } from '../cluster/smoke/kube.js';
import { podOf } from '../cluster/node/site.js';
import { startBeside, type Beside } from '../cluster/upstream-node/beside.js';
import { loginPerson, type HqClient, type HubNode } from '../v6-hub/fixtures.js';
import { HUB_ADMIN } from '../v6-hub/realm.js';
import { base64Json, resultsOf, runsOf, scriptClient, type RunJson } from '../v6-hub/session-flow.js';
import { startKubeApiRelay, type RelayCounts } from './kube-api-relay.js';
import { podCgroup, type PodCgroup } from './pod-cgroup.js';

export interface PodFigures {
  cpuSeconds: number;
  /** The highest memory.stat total_rss sampled every SAMPLE_MS. */
  peakRssMb: number;
  /** memory.max_usage_in_bytes over the runs: anonymous memory and page cache. */
  peakChargeMb: number;
}

export interface NodeFigures {
  runs: number;
  /** Whether the runs' tasks were created all at once rather than each after the one before finished. */
  together: boolean;
  completed: number;
  /** The first run's result, decoded. */
  result: unknown;
  wallSeconds: number;
  /** Medians over the runs: task created → the run's started_at, → its finished_at (at HQ). */
  runToStartedSeconds: number;
  runToFinishedSeconds: number;
  apiRequests: number;
  /** `<verb> <resource>` → requests, most first. */
  apiByVerb: [string, number][];
  node: PodFigures;
  /** Ours only: its Redis pod. */
  redis?: PodFigures;
}

const SAMPLE_MS = 250;
const POLL_MS = 250;
const MB = 1024 * 1024;

/** The researcher-script account's HQ client, renewed before the realm's 5-minute tokens expire. */
function researcherOf(beside: Beside): () => Promise<HqClient> {
  let client: Promise<HqClient> | undefined;
  let since = 0;
  return () => {
    if (client === undefined || Date.now() - since > 4 * 60_000) {
      client = scriptClient(beside.world.hub);
      since = Date.now();
    }
    return client;
  };
}

/** The task's runs once all have finished, or as they are at `deadline`. */
async function finished(researcher: () => Promise<HqClient>, taskId: number, deadline = Infinity): Promise<RunJson[]> {
  for (;;) {
    const runs = await runsOf(await researcher(), taskId);
    if ((runs.length > 0 && runs.every((r) => r.finished_at !== null)) || Date.now() > deadline) return runs;
    await sleep(POLL_MS);
  }
}

/** How long `together` waits for the runs after the last task was created: far beyond either node's pace here. */
const togetherDeadlineMs = (runs: number) => Math.max(300_000, runs * 8_000);

const podUid = async (namespace: string, pod: string) => (await kubectl(['get', 'pod', pod, '-n', namespace, '-o', 'jsonpath={.metadata.uid}'])).trim();

/** CPU, sampled RSS and peak charge of some pods from now until `stop()`. */
async function watchPod(cgroup: PodCgroup): Promise<{ stop(): Promise<PodFigures> }> {
  await cgroup.resetPeak();
  const cpuBefore = await cgroup.cpuSeconds();
  let peakRss = await cgroup.rssBytes();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRss = Math.max(peakRss, await cgroup.rssBytes());
      await sleep(SAMPLE_MS);
    }
  })();
  return {
    stop: async () => {
      sampling = false;
      await sampler;
      return { cpuSeconds: (await cgroup.cpuSeconds()) - cpuBefore, peakRssMb: peakRss / MB, peakChargeMb: (await cgroup.peakBytes()) / MB };
    },
  };
}

const userRequests = (counts: RelayCounts, namespace: string) => {
  const prefix = `system:serviceaccount:${namespace}:`;
  let total = 0;
  const byVerb = new Map<string, number>();
  for (const [user, verbs] of counts.byVerb) {
    if (!user.startsWith(prefix)) continue;
    for (const [verb, n] of verbs) {
      byVerb.set(verb, (byVerb.get(verb) ?? 0) + n);
      total += n;
    }
  }
  return { total, byVerb };
};

interface Measured {
  /** The namespace whose service accounts are this node's. */
  namespace: string;
  node: PodCgroup;
  redis?: PodCgroup;
}

/** The session and its extraction at the node's organization, then the runs one after the other. */
async function measure(beside: Beside, node: HubNode, measured: Measured, runs: number, together: boolean, relay: Awaited<ReturnType<typeof startKubeApiRelay>>): Promise<NodeFigures> {
  const researcher = researcherOf(beside);
  const image = beside.world.images.algorithms.session!;
  const organizations = [{ id: node.organization_id, arguments: base64Json({}) }];
  const hq = await researcher();
  const session = await hq.request<{ id: number }>('POST', 'session', { name: `bench ${node.name}`, collaboration_id: node.collaboration_id, scope: 'own' });
  const dataframe = await hq.request<{ id: number; last_session_task: { id: number } }>('POST', `session/${session.id}/dataframe`, {
    label: 'default',
    task: { image, method: 'read_csv', organizations },
  });
  const extraction = await finished(researcher, dataframe.last_session_task.id);
  if (extraction.some((r) => r.status !== 'completed')) throw new Error(`the extraction on ${node.name} did not complete: ${JSON.stringify(extraction)}`);

  const before = userRequests(relay.counts(), measured.namespace);
  const watching = await watchPod(measured.node);
  const redisWatching = measured.redis === undefined ? undefined : await watchPod(measured.redis);
  const done: RunJson[] = [];
  /** When each task was created, by this process's clock: HQ 5.0.3's task created_at and run assigned_at are its own start time (their column default is evaluated once, at import). */
  const createdAt: number[] = [];
  const tasks: number[] = [];
  for (let i = 0; i < runs; i++) {
    createdAt.push(Date.now());
    const task = await (await researcher()).request<{ id: number }>('POST', 'task', {
      name: `bench ${i}`,
      image,
      collaboration_id: node.collaboration_id,
      session_id: session.id,
      method: 'partial_sum',
      action: 'federated_compute',
      organizations: [{ id: node.organization_id, arguments: base64Json({ column: 'age' }) }],
      databases: [[{ dataframe_id: dataframe.id, type: 'dataframe' }]],
    });
    tasks.push(task.id);
    if (!together) done.push(...(await finished(researcher, task.id)));
  }
  if (together) {
    const deadline = Date.now() + togetherDeadlineMs(runs);
    for (const task of tasks) done.push(...(await finished(researcher, task, deadline)));
  }
  const figures = await watching.stop();
  const redis = await redisWatching?.stop();
  const after = userRequests(relay.counts(), measured.namespace);
  const client = await researcher();
  const detail: { created: number; started_at: string; finished_at: string }[] = [];
  for (const [i, r] of done.entries()) {
    if (r.finished_at !== null) detail.push({ created: createdAt[i]!, ...(await client.request<{ started_at: string; finished_at: string }>('GET', `run/${r.id}`)) });
  }
  // The nodes stamp started_at and finished_at in UTC, by the same host's clock as this process; HQ answers them without a zone.
  const at = (stamp: string) => Date.parse(/(Z|[+-]\d\d:\d\d)$/.test(stamp) ? stamp : `${stamp}Z`);
  const seconds = (from: number, to: string) => (at(to) - from) / 1000;
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const [first] = await resultsOf(client, tasks[0]!);
  return {
    runs,
    together,
    completed: done.filter((r) => r.status === 'completed').length,
    result: first ?? null,
    wallSeconds: Math.max(...detail.map((d) => seconds(createdAt[0]!, d.finished_at))),
    runToStartedSeconds: median(detail.map((d) => seconds(d.created, d.started_at))),
    runToFinishedSeconds: median(detail.map((d) => seconds(d.created, d.finished_at))),
    apiRequests: after.total - before.total,
    apiByVerb: [...after.byVerb].map(([verb, n]): [string, number] => [verb, n - (before.byVerb.get(verb) ?? 0)]).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]),
    node: figures,
    ...(redis === undefined ? {} : { redis }),
  };
}

/** Installs both kinds of node against one hub, with their Kubernetes API through the relay, and measures each. */
export async function benchBesideUpstream(runs: number, together = false): Promise<{ ours: NodeFigures; upstream: NodeFigures }> {
  const relay = await startKubeApiRelay();
  const apiEnv = { KUBERNETES_SERVICE_HOST: relay.host, KUBERNETES_SERVICE_PORT: String(relay.port) };
  let beside: Beside | undefined;
  try {
    beside = await startBeside({
      algorithms: { session: v6SessionImage(undefined, false) },
      values: () => ({
        agent: { extraEnv: Object.entries(apiEnv).map(([name, value]) => ({ name, value })) },
        networkPolicy: { kubernetesApi: { cidrs: [`${relay.host}/32`], ports: [relay.port] } },
      }),
      upstreamEnv: apiEnv,
    });
    const { hub } = beside.world;
    const admin = await loginPerson(`${hub.url}${hub.apiPath}`, hub.keycloakUrl, hub.realm, HUB_ADMIN.username, HUB_ADMIN.password);
    const [ours, upstream] = [beside.nodesIn(beside.collaborations.ours)[0]!, beside.nodesIn(beside.collaborations.upstream)[0]!];
    for (const node of [ours, upstream]) {
      while ((await admin.request<{ status: string }>('GET', `node/${node.id}`)).status !== 'online') await sleep(1000);
    }
    const site = beside.world.siteOf(ours);
    const upstreamNode = beside.upstream.get(upstream.id)!;
    const oursFigures = await measure(beside, ours, {
      namespace: site.namespace,
      node: await podCgroup(await podUid(site.namespace, await site.nodePod())),
      redis: await podCgroup(await podUid(site.namespace, await podOf(site.namespace, site.release, 'redis'))),
    }, runs, together, relay);
    const upstreamFigures = await measure(beside, upstream, {
      namespace: upstreamNode.namespace,
      node: await podCgroup(await podUid(upstreamNode.namespace, await upstreamNode.pod())),
    }, runs, together, relay);
    return { ours: oursFigures, upstream: upstreamFigures };
  } finally {
    await beside?.close();
    await relay.close();
  }
}

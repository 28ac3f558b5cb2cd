// One conversation with a Kubernetes API server, recorded so that the simulation can be held to
// what a real cluster answers (issue 11): the status codes and Status bodies of the calls the
// agent makes, the Jobs, pods and events of Jobs that complete, crash, pass their deadline, name
// an image that does not exist, are killed, or expire by TTL, the watch events of a pod's life, and
// what the garbage collector does with owned Secrets. Names, ids, times and resourceVersions differ
// between clusters and are normalised (`normalise.ts`); everything else is compared.
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { reuseConnections } from '../../../agent/cluster/kube-connections.js';
import { normaliser, shapeOf } from './normalise.js';

export interface ConversationTarget {
  kubeConfig: KubeConfig;
  /** An existing namespace in which pods may run (the real cluster's labelled restricted). */
  namespace: string;
  /** An image with a POSIX `sh`, `echo`, `sleep` (busybox on the real cluster). */
  image: string;
  /** An image reference that the cluster cannot pull. */
  missingImage: string;
  /** How long any one awaited state may take. */
  timeoutMs: number;
}

interface Answer {
  status: number;
  body: unknown;
}

type Json = Record<string, unknown>;

/** The raw API: status code and body, as the agent's client sees them. */
class RawApi {
  constructor(private readonly kubeConfig: KubeConfig) {}

  private async request(method: HttpMethod, path: string, body?: unknown, signal?: AbortSignal) {
    const url = `${this.kubeConfig.getCurrentCluster()?.server ?? ''}${path}`;
    const context = new RequestContext(url, method);
    await this.kubeConfig.applySecurityAuthentication(context);
    const headers = { ...context.getHeaders(), accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    return fetch(url, { method, headers, dispatcher: context.getDispatcher(), signal, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  }

  async call(method: HttpMethod, path: string, body?: unknown): Promise<Answer> {
    const response = await this.request(method, path, body);
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      return { status: response.status, body: text };
    }
  }

  /** Watch events until `done` says enough (or the time is up), from `path` with its query. */
  async watch(path: string, done: (events: Json[]) => boolean, timeoutMs: number): Promise<Json[]> {
    const events: Json[] = [];
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await this.request(HttpMethod.GET, path, undefined, controller.signal);
      let rest = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body ?? []) {
        const lines = (rest + decoder.decode(chunk as Uint8Array, { stream: true })).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines.filter((l) => l.trim() !== '')) events.push(JSON.parse(line) as Json);
        if (done(events)) break;
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    return events;
  }
}

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  runAsUser: 65534,
  runAsGroup: 65534,
  seccompProfile: { type: 'RuntimeDefault' },
};

function job(name: string, image: string, script: string, spec: Json = {}): Json {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels: { app: 'conversation' } },
    spec: {
      backoffLimit: 0,
      ...spec,
      template: {
        metadata: { labels: { app: 'conversation' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script], securityContext: RESTRICTED }],
        },
      },
    },
  };
}

const condition = (object: unknown, type: string) =>
  ((object as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');

const waitingReason = (pod: unknown) =>
  (pod as { status?: { containerStatuses?: { state?: { waiting?: { reason?: string } } }[] } }).status?.containerStatuses?.[0]?.state?.waiting?.reason;

/**
 * Steps a kubelet writes or not depending on its timing: its status manager writes the latest
 * status, so one that is overtaken before the write is never seen. A real cluster under load
 * showed a pod go from scheduled straight to running (no `ContainerCreating`); the phase can
 * likewise catch up with a terminated container in the same write.
 */
const COALESCIBLE = [/ Pending waiting:ContainerCreating$/, / Running terminated:/];

/**
 * The waiting reasons, phases and event types a pod watch showed, each run of repeats once,
 * without the steps a watch may or may not see (COALESCIBLE).
 */
function lifeOf(events: Json[]): string[] {
  const steps = events.map((event) => {
    const pod = event.object as { status?: { phase?: string; containerStatuses?: { state?: Record<string, { reason?: string }> }[] } };
    const state = pod.status?.containerStatuses?.[0]?.state ?? {};
    const [which, detail] = Object.entries(state)[0] ?? ['none', {}];
    return `${String(event.type)} ${pod.status?.phase ?? '-'} ${which}${detail.reason === undefined ? '' : `:${detail.reason}`}`;
  }).filter((step) => !COALESCIBLE.some((pattern) => pattern.test(step)));
  return steps.filter((step, i) => step !== steps[i - 1]);
}

/**
 * Holds the conversation and returns its record: step → normalised answer. Leaves the namespace's
 * objects to the caller's clean-up (it deletes the namespace).
 */
export async function converse(target: ConversationTarget): Promise<Record<string, unknown>> {
  const connections = reuseConnections(target.kubeConfig);
  const api = new RawApi(connections.kubeConfig);
  const ns = target.namespace;
  const normalise = normaliser(ns);
  const record: Record<string, unknown> = {};
  const keep = (step: string, answer: Answer): Json => {
    record[step] = { status: answer.status, body: shapeOf(normalise(answer.body)) };
    return answer.body as Json;
  };
  const jobs = `/apis/batch/v1/namespaces/${ns}/jobs`;
  const pods = `/api/v1/namespaces/${ns}/pods`;
  const secrets = `/api/v1/namespaces/${ns}/secrets`;
  const get = (path: string) => api.call(HttpMethod.GET, path);
  const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + target.timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${target.timeoutMs / 1000} s waiting for ${what}`);
      await sleep(250);
    }
  };
  const jobUntil = async (name: string, type: string): Promise<void> => until(`Job ${name} ${type}`, async () => condition((await get(`${jobs}/${name}`)).body, type));
  const podsOf = async (name: string) => ((await get(`${pods}?labelSelector=job-name%3D${name}`)).body as { items: Json[] }).items;
  const eventsOf = async (uid: string) => {
    const answer = await get(`/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.uid%3D${uid}`);
    const items = (answer.body as { items: Json[] }).items.map((e) => {
      const event = e as { type: string; reason: string; message: string; involvedObject: { kind: string }; source?: { component?: string }; reportingComponent?: string };
      return { reason: event.reason, text: normalise(`${event.involvedObject.kind} ${event.type} ${event.reason} (${event.source?.component ?? event.reportingComponent ?? ''}): ${event.message}`) as string };
    });
    return items;
  };
  /**
   * The events of an object, once one with reason `last` is there and half a second brings no
   * other: components record events asynchronously, after the state change the conversation
   * waited for.
   */
  const eventsUntil = async (uid: string, last: string): Promise<string[]> => {
    const texts = async () => {
      const items = await eventsOf(uid);
      return items.some((e) => e.reason === last) ? JSON.stringify([...new Set(items.map((e) => e.text))].sort()) : undefined;
    };
    let seen: string | undefined;
    await until(`the events of ${uid} to include ${last} and settle`, async () => {
      const before = await texts();
      if (before === undefined) return false;
      await sleep(500);
      seen = await texts();
      return seen === before;
    });
    return JSON.parse(seen!) as string[];
  };
  const uidOf = (object: unknown) => (object as { metadata: { uid: string } }).metadata.uid;
  /**
   * The pods of Job `name` watched from before the Job exists (`watch` as the client spells it),
   * until `done`: from a list's resourceVersion, so no event is missed however late the watch connects.
   */
  const watchPods = async (name: string, watch: string, done: (events: Json[]) => boolean): Promise<{ events: Promise<Json[]> }> => {
    const listed = await get(`${pods}?labelSelector=job-name%3D${name}`);
    const from = (listed.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    // In an object: an async function's promise would adopt this one, and wait for the whole watch.
    return { events: api.watch(`${pods}?labelSelector=job-name%3D${name}&watch=${watch}&resourceVersion=${from}`, done, target.timeoutMs) };
  };

  try {
    // Errors of the calls the agent makes.
    keep('GET a Job that does not exist', await get(`${jobs}/absent`));
    keep('DELETE a Job that does not exist', await api.call(HttpMethod.DELETE, `${jobs}/absent`, { propagationPolicy: 'Background' }));
    keep('POST a Job with an invalid name', await api.call(HttpMethod.POST, jobs, job('Not_A_Name', target.image, 'true')));
    const empty = job('empty', target.image, 'true') as { spec: { template: { spec: { containers: unknown[] } } } };
    empty.spec.template.spec.containers = [];
    keep('POST a Job without containers', await api.call(HttpMethod.POST, jobs, empty));
    keep('GET the log of a pod that does not exist', await get(`${pods}/absent/log?container=main`));
    keep('POST a Secret dry-run in a namespace that does not exist', await api.call(HttpMethod.POST, `/api/v1/namespaces/${ns}-absent/secrets?dryRun=All`, { metadata: { name: 'check' } }));
    keep('POST a Secret dry-run', await api.call(HttpMethod.POST, `${secrets}?dryRun=All`, { metadata: { name: 'check' } }));
    keep('POST a SelfSubjectAccessReview', await api.call(HttpMethod.POST, '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      spec: { resourceAttributes: { namespace: ns, verb: 'create', group: 'batch', resource: 'jobs' } },
    }));

    // Jobs that end every way a run can, started together.
    const done = keep('POST a Job', await api.call(HttpMethod.POST, jobs, job('done', target.image, 'echo hello; echo world')));
    keep('POST the same Job again', await api.call(HttpMethod.POST, jobs, job('done', target.image, 'echo hello; echo world')));
    await api.call(HttpMethod.POST, jobs, job('crash', target.image, 'echo failing >&2; exit 3'));
    await api.call(HttpMethod.POST, jobs, job('deadline', target.image, 'sleep 60', { activeDeadlineSeconds: 2 }));
    const noImage = await watchPods('no-image', 'true', (events) => events.some((e) => waitingReason(e.object) === 'ImagePullBackOff'));
    await api.call(HttpMethod.POST, jobs, job('no-image', target.missingImage, 'true'));
    await api.call(HttpMethod.POST, jobs, job('ttl', target.image, 'true', { ttlSecondsAfterFinished: 0 }));

    await jobUntil('done', 'Complete');
    keep('GET the completed Job', await get(`${jobs}/done`));
    const [donePod] = await podsOf('done');
    record['its pod'] = shapeOf(normalise(donePod));
    const donePodName = (donePod as { metadata: { name: string } }).metadata.name;
    keep('GET its log', await get(`${pods}/${donePodName}/log?container=main`));
    keep('GET its log, limitBytes=3', await get(`${pods}/${donePodName}/log?container=main&limitBytes=3`));
    keep('GET its log without naming the container', await get(`${pods}/${donePodName}/log`));
    keep('GET its log naming another container', await get(`${pods}/${donePodName}/log?container=other`));
    record['the events of the completed Job'] = await eventsUntil(uidOf(done), 'Completed');
    record['the events of its pod'] = await eventsUntil(uidOf(donePod), 'Started');

    await jobUntil('crash', 'Failed');
    const crash = keep('GET the crashed Job', await get(`${jobs}/crash`));
    // The first by name is the crashed Job, whose status no longer changes once it has Failed.
    keep('LIST the Jobs by label, limit=1', await get(`${jobs}?labelSelector=app%3Dconversation&limit=1`));
    record['the crashed pod'] = shapeOf(normalise((await podsOf('crash'))[0]));
    record['the events of the crashed Job'] = await eventsUntil(uidOf(crash), 'BackoffLimitExceeded');

    await jobUntil('deadline', 'Failed');
    const deadline = keep('GET the Job past its deadline', await get(`${jobs}/deadline`));
    record['the events of the Job past its deadline'] = await eventsUntil(uidOf(deadline), 'DeadlineExceeded');
    await until('the pods of Job deadline to go', async () => (await podsOf('deadline')).length === 0);

    const pullEvents = await noImage.events;
    record['a pod whose image cannot be pulled'] = lifeOf(pullEvents);
    const pulling = pullEvents.find((e) => waitingReason(e.object) === 'ErrImagePull')?.object;
    record['the pod of a missing image, ErrImagePull'] = shapeOf(normalise(pulling));
    record['the pod of a missing image, ImagePullBackOff'] = shapeOf(normalise(pullEvents.at(-1)?.object));
    const pullingName = (pullEvents.at(-1)?.object as { metadata: { name: string } }).metadata.name;
    keep('GET the log of a pod whose image cannot be pulled', await get(`${pods}/${pullingName}/log?container=main`));
    record['the events of the pod of a missing image'] = await eventsUntil(uidOf(pullEvents.at(-1)?.object), 'BackOff');

    await until('the TTL controller to delete Job ttl', async () => (await get(`${jobs}/ttl`)).status === 404);
    record['a Job with ttlSecondsAfterFinished 0 is deleted'] = true;

    // What the garbage collector does with a run's Secret.
    const owner = (uid: string, name: string) => ({ apiVersion: 'batch/v1', kind: 'Job', name, uid, controller: true, blockOwnerDeletion: true });
    keep('POST a Secret owned by the Job', await api.call(HttpMethod.POST, secrets, { metadata: { name: 'done-token', ownerReferences: [owner(uidOf(done), 'done')] }, stringData: { token: 't' } }));
    keep('POST a Secret owned by a Job that is gone', await api.call(HttpMethod.POST, secrets, { metadata: { name: 'orphan-token', ownerReferences: [owner('00000000-0000-4000-8000-000000000000', 'gone')] }, stringData: { token: 't' } }));
    keep('DELETE the Job, Background', await api.call(HttpMethod.DELETE, `${jobs}/done`, { propagationPolicy: 'Background' }));
    keep('GET the Job just deleted', await get(`${jobs}/done`));
    await until('the garbage collector to delete the Job\'s pods and Secret', async () => (await podsOf('done')).length === 0 && (await get(`${secrets}/done-token`)).status === 404);
    await until('the garbage collector to delete the Secret whose owner is gone', async () => (await get(`${secrets}/orphan-token`)).status === 404);
    record['owned Secrets are collected'] = true;

    // A pod's life through a watch (`watch=True`, as Python clients send it), and a kill.
    const watched = await watchPods('watched', 'True', (events) => events.some((e) => e.type === 'DELETED'));
    await api.call(HttpMethod.POST, jobs, job('watched', target.image, 'sleep 1; echo watched'));
    await jobUntil('watched', 'Complete');
    await api.call(HttpMethod.DELETE, `${jobs}/watched`, { propagationPolicy: 'Background' });
    record['a pod watched from creation to deletion'] = lifeOf(await watched.events);

    const killedWatch = await watchPods('killed', '1', (events) => events.some((e) => e.type === 'DELETED'));
    await api.call(HttpMethod.POST, jobs, job('killed', target.image, 'echo started; sleep 60'));
    await until('Job killed\'s pod to run', async () => (await podsOf('killed')).some((pod) => (pod as { status?: { phase?: string } }).status?.phase === 'Running'));
    await api.call(HttpMethod.DELETE, `${jobs}/killed`, { propagationPolicy: 'Background' });
    const killed = await killedWatch.events;
    record['a running pod whose Job is deleted'] = lifeOf(killed);
    record['the last state of the killed pod'] = shapeOf(normalise(killed.at(-1)?.object));
    return record;
  } finally {
    await connections.close();
  }
}

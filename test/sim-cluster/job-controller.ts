// The Job controller: level-triggered like kube-controller-manager's. Every Job or pod event only
// enqueues the Job's key; `sync` reads the Job and its pods from the store and carries out the
// plan of `planJobSync`. The store is synchronous, so the pod list is never stale and no
// "expectations" are needed. The active deadline is re-checked at the exact time it falls due.
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { isDeepStrictEqual } from 'node:util';
import { systemClock, type Clock } from './clock.js';
import { recordEvent } from './events.js';
import { JOB_TRACKING_FINALIZER, planJobSync } from './job-sync.js';
import type { KubeObject, Store, StoreEvent } from './store.js';
import { WorkQueue } from './work-queue.js';

export interface JobControllerOptions {
  clock?: Clock;
  /** Delay before a failed pod is replaced, doubling per failure (real Kubernetes: 10 s). Default 0. */
  podRetryBackoffMs?: number;
  /** Called when a sync fails (it is retried with backoff). */
  onError?: (key: string, error: unknown) => void;
}

const SOURCE = { component: 'job-controller' };

export class JobController {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #podRetryBackoffMs: number;
  readonly #queue: WorkQueue;
  readonly #unsubscribe: () => void;

  constructor(store: Store, options: JobControllerOptions = {}) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#podRetryBackoffMs = options.podRetryBackoffMs ?? 0;
    this.#queue = new WorkQueue((key) => this.#sync(key), {
      clock: this.#clock,
      ...(options.onError ? { onError: options.onError } : {}),
    });
    this.#unsubscribe = store.on((event) => this.#onEvent(event));
    for (const job of store.list('jobs')) this.#queue.add(keyOf(job.metadata.namespace, job.metadata.name!));
  }

  /** Stops watching and waits for a running sync. Idempotent. */
  async close(): Promise<void> {
    this.#unsubscribe();
    await this.#queue.close();
  }

  #onEvent(event: StoreEvent): void {
    const { metadata } = event.object;
    if (event.plural === 'jobs') this.#queue.add(keyOf(metadata.namespace, metadata.name!));
    if (event.plural !== 'pods') return;
    const owner = (metadata.ownerReferences ?? []).find((r) => r.controller === true && r.kind === 'Job');
    const jobName = owner?.name ?? metadata.labels?.['batch.kubernetes.io/job-name'];
    if (jobName !== undefined) this.#queue.add(keyOf(metadata.namespace, jobName));
  }

  async #sync(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const store = this.#store;
    const stored = store.get('jobs', namespace, name);
    const candidates = store.list('pods', { namespace, labelSelector: `batch.kubernetes.io/job-name=${name}` });
    const uid = stored?.metadata.uid;
    const owned = candidates.filter((p) => (p.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === uid));
    // Pods of a deleted (or replaced) Job keep no tracking finalizer, as the real controller cleans them up.
    for (const pod of candidates.filter((p) => !owned.includes(p))) this.#release(namespace, pod.metadata.name!);
    if (stored === undefined) return;

    const job = stored as unknown as IJob;
    const now = this.#clock.now();
    const plan = planJobSync(job, owned as unknown as IPod[], now, { podRetryBackoffMs: this.#podRetryBackoffMs });
    for (const podName of plan.deletePods) {
      store.delete('pods', namespace, podName);
      recordEvent(store, SOURCE, stored, 'Normal', 'SuccessfulDelete', `Deleted pod: ${podName}`, now);
    }
    for (let i = 0; i < plan.createPods; i++) {
      const pod = store.create('pods', podFor(stored, job));
      recordEvent(store, SOURCE, stored, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`, now);
    }
    if (!isDeepStrictEqual(plan.status, job.status)) {
      store.update('jobs', namespace, name, (draft) => {
        draft['status'] = plan.status;
      });
    }
    for (const podName of plan.releasePods) this.#release(namespace, podName);
    for (const event of plan.events) recordEvent(store, SOURCE, stored, event.type, event.reason, event.message, now);
    if (plan.requeueAfterMs !== undefined) this.#queue.addAfter(key, plan.requeueAfterMs);
  }

  /** Removes the tracking finalizer once the pod is accounted for (a pod already gone is fine). */
  #release(namespace: string, podName: string): void {
    const pod = this.#store.get('pods', namespace, podName);
    if (!(pod?.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER)) return;
    this.#store.update('pods', namespace, podName, (draft) => {
      draft.metadata.finalizers = (draft.metadata.finalizers ?? []).filter((f) => f !== JOB_TRACKING_FINALIZER);
    });
  }
}

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? 'default'}/${name}`;
}

/** A pod from the Job's template, as the controller creates it: generated name, owned by the Job, tracked. */
function podFor(stored: KubeObject, job: IJob): KubeObject {
  const template = job.spec!.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${stored.metadata.name}-`,
      namespace: stored.metadata.namespace,
      labels: { ...template.metadata?.labels },
      annotations: { ...template.metadata?.annotations },
      ownerReferences: [
        { apiVersion: 'batch/v1', kind: 'Job', name: stored.metadata.name!, uid: stored.metadata.uid!, controller: true, blockOwnerDeletion: true },
      ],
      finalizers: [JOB_TRACKING_FINALIZER],
    },
    spec: structuredClone(template.spec),
  };
}

import {
  BatchV1Api,
  CoreV1Api,
  ListWatch,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { cachedJob, cachedPod } from '../kube/cached-objects.js';
import { LabelKey, runIdOf } from '../kube/names.js';

export interface RunInformerOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** Only this node's objects: `nodeSelector(nodeId)`. */
  readonly labelSelector: string;
  readonly logger: Logger;
  /** Called for every add, update and delete of a run's Job or pod: "look at run N". */
  readonly onRunChanged: (runId: number) => void;
  readonly restartDelayMs?: number;
  readonly onWatchError?: () => void;
}

type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/**
 * Watches this node's Jobs and pods (list, then watch; never polling) and keeps them cached.
 * Events only say which run changed; the reconciler reads the cache. client-node's informer
 * does not restart itself after a watch error, so this does, after a delay, with a fresh list.
 */
export class RunInformer {
  private readonly options: RunInformerOptions;
  private readonly jobs: Watched<V1Job>;
  private readonly pods: Watched<V1Pod>;
  private readonly restartDelayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(options: RunInformerOptions) {
    this.options = options;
    this.restartDelayMs = options.restartDelayMs ?? 1_000;
    const { kubeConfig, namespace, labelSelector } = options;
    const batch = kubeConfig.makeApiClient(BatchV1Api);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    // The caches hold stripped objects (cached-objects.ts): a listed or watched object is
    // replaced by what the agent reads of it before the informer stores it.
    this.jobs = strippedInformer(kubeConfig, `/apis/batch/v1/namespaces/${namespace}/jobs`, () => batch.listNamespacedJob({ namespace, labelSelector }), labelSelector, cachedJob);
    this.pods = strippedInformer(kubeConfig, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector }), labelSelector, cachedPod);
    this.wire(this.jobs, 'Job');
    this.wire(this.pods, 'Pod');
  }

  /** Lists and starts watching; resolves once both caches are filled. */
  async start(): Promise<void> {
    await Promise.all([this.jobs.start(), this.pods.start()]);
  }

  /** The cached Job of a run, by name. */
  job(name: string): V1Job | undefined {
    return this.jobs.get(name, this.options.namespace);
  }

  allJobs(): readonly V1Job[] {
    return this.jobs.list(this.options.namespace);
  }

  /** The cached pods of a run. */
  podsOfRun(runId: number): V1Pod[] {
    return this.pods.list(this.options.namespace).filter((pod) => runIdOf(pod.metadata?.labels) === runId);
  }

  /** Whether a cached Job or pod of this node belongs to the vantage6 job `jobId`. */
  holdsJob(jobId: number): boolean {
    const ofJob = (object: KubernetesObject): boolean => object.metadata?.labels?.[LabelKey.JobId] === String(jobId);
    return this.jobs.list(this.options.namespace).some(ofJob) || this.pods.list(this.options.namespace).some(ofJob);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all([this.jobs.stop(), this.pods.stop()]);
  }

  private wire<T extends KubernetesObject>(informer: Watched<T>, kind: string): void {
    const changed = (object: T): void => {
      const runId = runIdOf(object.metadata?.labels);
      if (runId !== undefined) this.options.onRunChanged(runId);
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('error', (error: unknown) => {
      if (this.closed) return;
      this.options.onWatchError?.();
      this.options.logger.warn({ kind, err: error }, 'watch failed; relisting after a delay');
      this.restartLater(informer, kind);
    });
  }

  private restartLater<T extends KubernetesObject>(informer: Watched<T>, kind: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      informer.start().catch((error: unknown) => {
        this.options.logger.warn({ kind, err: error }, 'relist failed; trying again');
        this.restartLater(informer, kind);
      });
    }, this.restartDelayMs);
    this.timers.add(timer);
  }
}

/** client-node's `makeInformer`, with every listed and watched object passed through `strip` first. */
function strippedInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  labelSelector: string,
  strip: (object: T) => T,
): Watched<T> {
  const watch = new StrippingWatch(kubeConfig, strip as (object: unknown) => unknown);
  const listStripped = async (): Promise<KubernetesListObject<T>> => {
    const answer = await list();
    return { ...answer, items: answer.items.map(strip) };
  };
  return new ListWatch<T>(path, watch, listStripped, false, labelSelector);
}

/** A `Watch` whose ADDED/MODIFIED/DELETED objects are stripped before the informer sees them (ERROR and BOOKMARK pass as they are). */
class StrippingWatch extends Watch {
  readonly #strip: (object: unknown) => unknown;

  constructor(kubeConfig: KubeConfig, strip: (object: unknown) => unknown) {
    super(kubeConfig);
    this.#strip = strip;
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      (phase, object, watchObject) => callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.#strip(object) : object, watchObject),
      done,
    );
  }
}

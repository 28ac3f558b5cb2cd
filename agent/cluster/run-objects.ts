import { fetch } from 'undici';
import {
  BatchV1Api,
  CoreV1Api,
  HttpMethod,
  RequestContext,
  type KubeConfig,
  type V1Job,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AgentError } from '../errors.js';
import { apiMessage, apiStatus } from './api-errors.js';

/** Reports every failed API call by verb and status code, for metrics. */
export type ApiErrorObserver = (verb: string, code: string) => void;

/**
 * The Kubernetes API calls of a run's objects (Job, Secret, pods, logs) in one namespace. Writes
 * are idempotent: 409 on create and 404 on delete count as success, since names are
 * deterministic and a retried call may find its own earlier work.
 */
export class RunObjects {
  readonly namespace: string;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly kubeConfig: KubeConfig;
  private readonly logger: Logger;
  private readonly onApiError: ApiErrorObserver;

  constructor(options: { kubeConfig: KubeConfig; namespace: string; logger: Logger; onApiError?: ApiErrorObserver }) {
    this.namespace = options.namespace;
    this.batch = options.kubeConfig.makeApiClient(BatchV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.kubeConfig = options.kubeConfig;
    this.logger = options.logger;
    this.onApiError = options.onApiError ?? (() => {});
  }

  /** Creates the Secret; an existing one with the same name is taken as ours. */
  async createSecret(secret: V1Secret): Promise<void> {
    await this.call('create', 'Secret', async () => {
      try {
        await this.core.createNamespacedSecret({ namespace: this.namespace, body: secret });
        this.logger.info({ secret: secret.metadata?.name }, 'Created Secret');
      } catch (error) {
        if (apiStatus(error) !== 409) throw error;
      }
    });
  }

  /**
   * Creates the Job; when one exists under its name (a retried create, or a create whose answer
   * was lost) that one is returned.
   */
  async createJob(job: V1Job): Promise<V1Job> {
    const name = job.metadata?.name ?? '';
    return this.call('create', 'Job', async () => {
      try {
        const created = await this.batch.createNamespacedJob({ namespace: this.namespace, body: job });
        this.logger.info({ job: name }, 'Created Job');
        return created;
      } catch (error) {
        if (apiStatus(error) !== 409) throw error;
        this.logger.info({ job: name }, 'Job exists already; adopting it');
        return this.batch.readNamespacedJob({ name, namespace: this.namespace });
      }
    });
  }

  /** The Job of this name as the API server has it now, or undefined. */
  async getJob(name: string): Promise<V1Job | undefined> {
    return this.call('get', 'Job', async () => {
      try {
        return await this.batch.readNamespacedJob({ name, namespace: this.namespace });
      } catch (error) {
        if (apiStatus(error) === 404) return undefined;
        throw error;
      }
    });
  }

  /** Whether the API server has any Job or pod matching `labelSelector` (one of each listed at most). */
  async anyMatching(labelSelector: string): Promise<boolean> {
    return this.call('list', 'Job', async () => {
      const jobs = await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector, limit: 1 });
      if (jobs.items.length > 0) return true;
      const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector, limit: 1 });
      return pods.items.length > 0;
    });
  }

  /**
   * Deletes the run's Job; a Job already gone is fine. Its pods and its Secret are owned by it
   * (the Secret through a UID-checked ownerReference), so the garbage collector removes them:
   * with Background propagation the Job goes at once and its dependents right after, and a
   * Secret created for a Job that is gone already is collected too. Deleting the Secret as well
   * only met the collector's work (a 404 per run).
   */
  async deleteRunObjects(name: string): Promise<void> {
    await this.call('delete', 'Job', async () => {
      try {
        await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' });
        this.logger.info({ job: name }, 'Deleted Job');
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
      }
    });
  }

  /** The whole log of a pod's container, or undefined when the pod is gone. */
  /** A container's log, at most its first `limitBytes`. */
  async readLog(podName: string, container: string, limitBytes: number): Promise<string | undefined> {
    return this.call('get', 'pods/log', async () => {
      try {
        return await this.core.readNamespacedPodLog({ name: podName, namespace: this.namespace, container, limitBytes: Math.floor(limitBytes) });
      } catch (error) {
        if (apiStatus(error) === 404 || apiStatus(error) === 400) return undefined;
        throw error;
      }
    });
  }

  /**
   * Follows a running container's log, calling `onLine` per line, until the container ends or
   * `signal` aborts. Resolves when the stream ends. (client-node's `Log` pipes a stream whose
   * abort error nobody can catch, so this reads `pods/log` itself, with the kube config's
   * credentials and TLS.)
   */
  async followLog(podName: string, container: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new AgentError('V6_KUBE_API_ERROR', 'the kube config has no current cluster', { retryable: false });
    const url = new URL(`${server}/api/v1/namespaces/${this.namespace}/pods/${podName}/log`);
    url.searchParams.set('container', container);
    url.searchParams.set('follow', 'true');
    const context = new RequestContext(url.toString(), HttpMethod.GET);
    await this.kubeConfig.applySecurityAuthentication(context);
    let rest = '';
    try {
      const response = await fetch(url, { headers: context.getHeaders(), dispatcher: context.getDispatcher(), signal });
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        return;
      }
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) onLine(line);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
    if (rest !== '') onLine(rest);
  }

  private async call<T>(verb: string, kind: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      this.onApiError(verb, String(apiStatus(error) ?? 'connection'));
      throw new AgentError('V6_KUBE_API_ERROR', `Kubernetes API: ${verb} ${kind} in namespace ${this.namespace} failed: ${apiMessage(error)}`, {
        retryable: apiStatus(error) === undefined || (apiStatus(error) ?? 0) >= 500 || apiStatus(error) === 429,
        cause: error,
      });
    }
  }
}

import { PassThrough } from 'node:stream';
import {
  BatchV1Api,
  CoreV1Api,
  Log,
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
  private readonly log: Log;
  private readonly logger: Logger;
  private readonly onApiError: ApiErrorObserver;

  constructor(options: { kubeConfig: KubeConfig; namespace: string; logger: Logger; onApiError?: ApiErrorObserver }) {
    this.namespace = options.namespace;
    this.batch = options.kubeConfig.makeApiClient(BatchV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.log = new Log(options.kubeConfig);
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
   * was lost) that one is returned with `created: false`.
   */
  async createJob(job: V1Job): Promise<{ job: V1Job; created: boolean }> {
    const name = job.metadata?.name ?? '';
    return this.call('create', 'Job', async () => {
      try {
        const created = await this.batch.createNamespacedJob({ namespace: this.namespace, body: job });
        this.logger.info({ job: name }, 'Created Job');
        return { job: created, created: true };
      } catch (error) {
        if (apiStatus(error) !== 409) throw error;
        this.logger.info({ job: name }, 'Job exists already; adopting it');
        return { job: await this.batch.readNamespacedJob({ name, namespace: this.namespace }), created: false };
      }
    });
  }

  /** Deletes the run's Job (its pods with it) and Secret; objects already gone are fine. */
  async deleteRunObjects(name: string): Promise<void> {
    await this.call('delete', 'Job', async () => {
      try {
        await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' });
        this.logger.info({ job: name }, 'Deleted Job');
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
      }
    });
    await this.call('delete', 'Secret', async () => {
      try {
        await this.core.deleteNamespacedSecret({ name, namespace: this.namespace });
      } catch (error) {
        if (apiStatus(error) !== 404) throw error;
      }
    });
  }

  /** The whole log of a pod's container, or undefined when the pod is gone. */
  async readLog(podName: string, container: string): Promise<string | undefined> {
    return this.call('get', 'pods/log', async () => {
      try {
        return await this.core.readNamespacedPodLog({ name: podName, namespace: this.namespace, container });
      } catch (error) {
        if (apiStatus(error) === 404 || apiStatus(error) === 400) return undefined;
        throw error;
      }
    });
  }

  /**
   * Follows a running container's log, calling `onLine` per line, until the container ends or
   * `signal` aborts. Resolves when the stream ends.
   */
  async followLog(podName: string, container: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
    const sink = new PassThrough();
    let rest = '';
    sink.setEncoding('utf8');
    sink.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    const ended = new Promise<void>((resolve) => sink.on('end', resolve).on('close', resolve));
    const controller = await this.log.log(this.namespace, podName, container, sink, { follow: true });
    const abort = (): void => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    await ended;
    signal.removeEventListener('abort', abort);
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

// Runs the isolation probe once: for each kind of probe the node needs (probeKinds), in turn,
// replaces any earlier probe Job of that kind, creates the Job, waits for its pod through a watch
// (list, then watch; never polling), reads the verdict from the pod and deletes the Job; stops at
// the first verdict that is not `enforced`. Thin I/O around the pure probe-spec.ts and verdict.ts.
import { BatchV1Api, CoreV1Api, makeInformer, type Informer, type KubeConfig, type ObjectCache, type V1Job, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { protocolOf, type Config } from '../config.js';
import { apiMessage, apiStatus } from '../cluster/api-errors.js';
import type { ProxyAddress } from '../cluster/proxy-address.js';
import { describe } from '../errors.js';
import { LabelKey } from '../kube/names.js';
import { buildProbeJob, describeTarget, PROBE_DEADLINE_SECONDS, PROBE_LABEL, probeJobName, probeKinds, probeTargets, type ProbeTargets } from './probe-spec.js';
import { outcomeOfPod, overallOutcome, type ProbeKind, type ProbeOutcome } from './verdict.js';

export interface IsolationProbeOptions {
  readonly kubeConfig: KubeConfig;
  readonly nodeId: number;
  /** `hq_url` says whether the node speaks vantage6 5, whose runs the probes stand for by action. */
  readonly config: Pick<Config, 'kubernetes' | 'isolation' | 'proxy' | 'hq_url'>;
  /** The proxy by address, as algorithms get it. */
  readonly proxyAddress: Pick<ProxyAddress, 'url'>;
  readonly logger: Logger;
  /** Delay before a failed watch is listed and watched again. */
  readonly restartDelayMs?: number;
}

type Watched = Informer<V1Pod> & ObjectCache<V1Pod>;

/** One probe at a time; `run` never throws: what goes wrong is an `unknown` verdict with the reason. */
export class IsolationProbe {
  private readonly options: IsolationProbeOptions;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly namespace: string;

  constructor(options: IsolationProbeOptions) {
    this.options = options;
    this.batch = options.kubeConfig.makeApiClient(BatchV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = options.config.kubernetes.namespace;
  }

  async run(signal: AbortSignal): Promise<ProbeOutcome> {
    const { config, kubeConfig } = this.options;
    try {
      const targets = probeTargets(config, kubeConfig.getCurrentCluster()?.server, await this.options.proxyAddress.url());
      if (targets === undefined) {
        return { verdict: 'unknown', reason: 'no destination to test: set isolation.forbidden_url (the kube config names no API server)' };
      }
      const outcomes: ProbeOutcome[] = [];
      for (const kind of probeKinds(protocolOf(config))) {
        const outcome = await this.probe(kind, targets, signal);
        outcomes.push(outcome);
        if (outcome.verdict !== 'enforced') break;
      }
      return overallOutcome(outcomes);
    } catch (error) {
      return { verdict: 'unknown', reason: `the probe could not be run: ${apiStatus(error) === undefined ? describe(error) : apiMessage(error)}` };
    }
  }

  /** One probe pod, as a run of `kind.action`; throws what the API refuses. */
  private async probe(kind: ProbeKind, targets: ProbeTargets, signal: AbortSignal): Promise<ProbeOutcome> {
    const { config, nodeId } = this.options;
    // The config refuses isolation.probe without isolation.image.
    const image = config.isolation.image ?? '';
    const name = probeJobName(nodeId, kind.action);
    const described = { forbidden: describeTarget(targets.forbidden), proxy: describeTarget(targets.proxy) };
    await this.deleteJob(name); // a probe of an earlier agent, or one whose deletion failed
    const job = await this.batch.createNamespacedJob({ namespace: this.namespace, body: buildProbeJob({ nodeId, image, targets, kind, config }) });
    this.options.logger.info({ job: name, action: kind.action, ...described }, 'Created Job');
    try {
      return { ...(await this.waitForPod(job, (pod) => outcomeOfPod(pod, kind, described), signal)), action: kind.action };
    } finally {
      await this.deleteJob(name).catch((error: unknown) => this.options.logger.warn({ job: name, err: error }, 'could not delete the probe Job'));
    }
  }

  /** Resolves with the outcome the Job's pod shows first, or `unknown` at the deadline, on deletion or on abort. */
  private waitForPod(job: V1Job, judge: (pod: V1Pod) => ProbeOutcome | undefined, signal: AbortSignal): Promise<ProbeOutcome> {
    const uid = job.metadata?.uid;
    const labelSelector = `${LabelKey.NodeId}=${this.options.nodeId},${PROBE_LABEL}=true`;
    const informer: Watched = makeInformer<V1Pod>(
      this.options.kubeConfig,
      `/api/v1/namespaces/${this.namespace}/pods`,
      () => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector }),
      labelSelector,
    );
    const ours = (pod: V1Pod) => (pod.metadata?.ownerReferences ?? []).some((owner) => owner.uid === uid);
    return new Promise<ProbeOutcome>((resolve) => {
      let settled = false;
      let restart: NodeJS.Timeout | undefined;
      const finish = (outcome: ProbeOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearTimeout(restart);
        signal.removeEventListener('abort', aborted);
        void informer.stop();
        resolve(outcome);
      };
      const look = (pod: V1Pod): void => {
        if (!ours(pod)) return;
        const outcome = judge(pod);
        if (outcome !== undefined) finish(outcome);
      };
      const deadline = setTimeout(() => {
        const pod = informer.list(this.namespace).find(ours);
        const phase = pod?.status?.phase ?? 'no pod';
        const waiting = pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
        finish({ verdict: 'unknown', reason: `the probe pod did not finish within ${PROBE_DEADLINE_SECONDS} s (${phase}${waiting === undefined ? '' : `, ${waiting}`})` });
      }, PROBE_DEADLINE_SECONDS * 1000);
      const aborted = (): void => finish({ verdict: 'unknown', reason: 'the agent stopped before the probe finished' });
      signal.addEventListener('abort', aborted, { once: true });
      informer.on('add', look);
      informer.on('update', look);
      informer.on('delete', (pod) => {
        if (ours(pod)) finish({ verdict: 'unknown', reason: 'the probe pod was deleted before it finished' });
      });
      informer.on('error', (error: unknown) => {
        if (settled) return;
        this.options.logger.warn({ err: error }, 'probe pod watch failed; relisting after a delay');
        const start = (): void => {
          if (settled) return;
          informer.start().catch((again: unknown) => {
            this.options.logger.warn({ err: again }, 'probe pod relist failed; trying again');
            restart = setTimeout(start, this.options.restartDelayMs ?? 1_000);
          });
        };
        restart = setTimeout(start, this.options.restartDelayMs ?? 1_000);
      });
      if (signal.aborted) aborted();
      informer.start().then(
        () => {
          for (const pod of informer.list(this.namespace)) look(pod);
        },
        (error: unknown) => finish({ verdict: 'unknown', reason: `the probe pod could not be watched: ${apiMessage(error)}` }),
      );
    });
  }

  /** Deletes a probe Job and, in the background, its pod; a Job already gone is fine. */
  private async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' });
      this.options.logger.info({ job: name }, 'Deleted Job');
    } catch (error) {
      if (apiStatus(error) !== 404) throw error;
    }
  }
}

import type { V1Job } from '@kubernetes/client-node';
import { UnrecoverableError, type Job } from 'bullmq';
import { protocolOf } from '../config.js';
import { AgentError, RunNotRunnableError, ServerResponseError } from '../errors.js';
import { KubeSpecError } from '../kube/errors.js';
import { buildRunObjects, secretOwnedBy } from '../kube/job-spec.js';
import { runObjectName } from '../kube/names.js';
import { Action, getsContainerToken } from '../protocol/actions.js';
import { InvalidImageNameError } from '../protocol/errors.js';
import { run5Of, type Run5 } from '../protocol/run-5.js';
import { requestedDataframes } from '../protocol/session-databases.js';
import { isImageAllowed } from '../protocol/policy.js';
import { RunStatus } from '../protocol/run-status.js';
import { toServerDatetime } from '../protocol/datetime.js';
import type { ServerRun } from '../server/types.js';
import type { RunJobData } from '../../queue/run-queues.js';
import type { RunContext } from './context.js';
import { isJobFinished } from './capacity.js';
import { decodeRunInput } from './run-input.js';

/** How long a run waits before it looks again for a free slot under the cap on live Jobs. */
const CAPACITY_RECHECK_MS = 2_000;
/** How long a run waits before it looks again whether isolation is confirmed: how late it starts after that. */
const ISOLATION_RECHECK_MS = 5_000;

/** Whether runs may be launched now (agent/isolation/monitor.ts), and where a held launch is logged. */
export interface LaunchGate {
  allowsLaunches(): boolean;
  launchRefused(fields: Record<string, unknown>): void;
}

/**
 * Launches one run as a Kubernetes Job, reconciling from what the server and the cluster say:
 * a run finished at the server, killed, or already with a Job or a pending report is left alone,
 * so a launch that runs twice (a redelivered queue job, an agent restart) never creates a
 * second Job. A run that cannot run is handed to the reporter with its vantage6 status.
 */
export class Launcher {
  constructor(
    private readonly ctx: RunContext,
    private readonly gate?: LaunchGate,
  ) {}

  async process(job: Job<RunJobData>, token?: string): Promise<void> {
    const { runId, taskId } = job.data;
    const { ctx } = this;
    const logger = ctx.logger.child({ runId, taskId });
    const name = runObjectName(ctx.identity.nodeId, runId);
    // A run that would need a new Job waits, from what is in memory and before any call, while
    // launches are held; only this run waits (the queue job is deferred, not an attempt), so
    // launches that repair runs already in the cluster go on.
    if (!ctx.informer.job(name)) {
      if (this.gate && !this.gate.allowsLaunches()) {
        this.gate.launchRefused({ runId, taskId });
        throw await ctx.queues.deferLaunch(job, token, ISOLATION_RECHECK_MS);
      }
      if (!ctx.capacity.reserve(name)) {
        logger.debug({ max: ctx.capacity.max }, 'cap on live Jobs reached; the run waits');
        throw await ctx.queues.deferLaunch(job, token, CAPACITY_RECHECK_MS);
      }
    }
    let created = false;
    try {
      created = await this.launch(runId, name, logger);
    } catch (error) {
      if (error instanceof ServerResponseError && error.status === 404) {
        logger.warn('the server does not know this run (any more); dropping it');
        return;
      }
      if (error instanceof AgentError && !error.retryable) throw new UnrecoverableError(error.message);
      throw error;
    } finally {
      // A slot reserved for a Job that was not created goes back (a created one the informer counts).
      if (!created) ctx.capacity.release(name);
    }
    ctx.metrics.queueWait?.((Date.now() - job.timestamp) / 1000);
  }

  /** Reconciles the run; true when it created the run's Job. */
  private async launch(runId: number, name: string, logger: RunContext['logger']): Promise<boolean> {
    const { ctx } = this;
    const run = await ctx.runs.run(runId);
    if (run.finished_at !== null) {
      logger.info({ status: run.status }, 'run is finished at the server; nothing to launch');
      return false;
    }
    const markers = await ctx.markers.read(runId);
    if (markers.killed) return false;
    // The informer's cache is enough to find a Job; to conclude that a Job the node created is
    // gone it is not (a dropped watch leaves it stale), so that is asked of the API server.
    const existing = ctx.informer.job(name) ?? (markers.launched ? await ctx.objects.getJob(name) : undefined);
    if (existing) {
      logger.info({ job: name }, 'run has a Job already; adopting it');
      // The attempt that created it may have failed before the Job's Secret: without it the pod
      // waits for its volume forever.
      if (!isJobFinished(existing) && !(await ctx.queues.hasPendingReport(runId))) await this.ensureSecret(run, existing);
      return false;
    }
    if (await ctx.queues.hasPendingReport(runId)) return false;
    if (markers.launched) {
      await this.reject(run, RunStatus.UnknownError, 'The run\'s Job disappeared from the cluster before the node read its result.');
      return false;
    }
    try {
      await this.start(run, name, logger);
      return true;
    } catch (error) {
      const rejection = asRejection(error);
      if (!rejection) throw error;
      logger.warn({ status: rejection.status, reason: rejection.message }, 'run cannot run');
      await this.reject(run, rejection.status, rejection.message);
      return false;
    }
  }

  private async start(run: ServerRun, name: string, logger: RunContext['logger']): Promise<void> {
    const { ctx } = this;
    const task = run.task;
    const protocol = protocolOf(ctx.config);
    const v5 = protocol === 5 ? run5Of(run) : undefined;
    const decision = await isImageAllowed(ctx.config.policies, task.image, task, ctx.policyDeps);
    if (!decision.allowed) throw new RunNotRunnableError(RunStatus.NotAllowed, decision.reason);
    const input = decodeRunInput(run, ctx.cryptor, protocol);
    if (v5 !== undefined) await this.ensureSession(run, v5);

    await ctx.runs.patchRun(run.id, { started_at: toServerDatetime(ctx.now()) });
    const token = await this.runToken(run, v5);
    const objects = await this.runObjects(run, token, v5);
    await ctx.files.prepare(run.id, v5 === undefined ? task.job_id : undefined, input);
    await this.keepToken(run.id, token);
    // Job first, then its Secret owned by it: the pod waits for the Secret's volume (the kubelet
    // retries the mount), and the Secret can never outlive the Job. A Job that exists already
    // (409: an earlier attempt got this far) is adopted, and its Secret made sure of.
    const job = await ctx.objects.createJob(objects.job);
    await ctx.markers.markLaunched(run.id);
    await ctx.objects.createSecret(secretOwnedBy(objects.secret, job));

    if ((await ctx.markers.read(run.id)).killed) {
      logger.info('run was killed while its Job was being created; deleting it');
      await ctx.objects.deleteRunObjects(name);
    }
    // Statuses from here on (initializing, active, …) are the run watcher's, from what the
    // cluster says: a PATCH from here could overtake its newer one.
  }

  /**
   * A 5 run's session folder, made if new; a run that reads dataframes the node does not have
   * (never extracted here, or deleted) is `dataframe not found`, as upstream reports it.
   */
  private async ensureSession(run: ServerRun, v5: Run5): Promise<void> {
    await this.ctx.sessions.ensure(v5.sessionId);
    if (v5.action === Action.DataExtraction) return;
    const missing = await this.ctx.sessions.missing(v5.sessionId, requestedDataframes(run.task.databases).flat());
    if (missing.length > 0) {
      throw new RunNotRunnableError(
        RunStatus.DataframeNotFound,
        `Session ${v5.sessionId} has no dataframe ${missing.map((df) => `'${df}'`).join(', ')} on this node: it was never extracted here, or it was deleted.`,
      );
    }
  }

  /** Creates the Secret of a run whose Job exists (409 if it does too), with the token the run was given. */
  private async ensureSecret(run: ServerRun, job: V1Job): Promise<void> {
    const { ctx } = this;
    const v5 = protocolOf(ctx.config) === 5 ? run5Of(run) : undefined;
    const token = await this.runToken(run, v5);
    await this.keepToken(run.id, token);
    await ctx.markers.markLaunched(run.id);
    await ctx.objects.createSecret(secretOwnedBy((await this.runObjects(run, token, v5)).secret, job));
  }

  /** Keeps the run's token for a retried launch and lets the proxy accept it. */
  private async keepToken(runId: number, token: string | undefined): Promise<void> {
    if (token === undefined) return;
    await this.ctx.files.saveToken(runId, token);
    await this.ctx.liveTokens.grant(runId, token);
  }

  /**
   * The run's container token: the one an earlier attempt obtained (it may be in a Secret
   * already, and a new grant would retire it), else a new one. A 5 run gets one only for central
   * compute: no other action calls the hub.
   */
  private async runToken(run: ServerRun, v5: Run5 | undefined): Promise<string | undefined> {
    if (v5 !== undefined && !getsContainerToken(v5.action)) return undefined;
    return (await this.ctx.files.savedToken(run.id)) ?? (await this.containerToken(run));
  }

  private async runObjects(run: ServerRun, token: string | undefined, v5: Run5 | undefined): Promise<ReturnType<typeof buildRunObjects>> {
    const { ctx } = this;
    const task = run.task;
    const proxyUrl = await ctx.proxyAddress.url();
    return buildRunObjects({
      run: {
        id: run.id,
        taskId: task.id,
        jobId: task.job_id,
        parentId: task.parent?.id ?? null,
        image: task.image,
        databases: task.databases,
        ...(v5 === undefined
          ? {}
          : { v5: { action: v5.action, method: v5.method, sessionId: v5.sessionId, ...(v5.dataframe ? { dataframe: v5.dataframe.name } : {}) } }),
      },
      node: {
        id: ctx.identity.nodeId,
        organizationId: ctx.identity.organizationId,
        collaborationId: ctx.identity.collaborationId,
        name: ctx.identity.nodeName,
      },
      token,
      proxyUrl,
      isolationGate: ctx.isolationGate,
      config: ctx.config,
    });
  }

  private async containerToken(run: ServerRun): Promise<string> {
    try {
      return await this.ctx.runs.containerToken(run.task.id, run.task.image);
    } catch (error) {
      if (error instanceof ServerResponseError && !error.retryable) {
        throw new RunNotRunnableError(RunStatus.Failed, `Could not obtain algorithm container token: ${error.message}`, error);
      }
      throw error;
    }
  }

  private async reject(run: ServerRun, status: string, reason: string): Promise<void> {
    await this.ctx.queues.enqueueReport({ runId: run.id, taskId: run.task.id, status, reason });
  }
}

/** A failure that decides the run's status (it cannot run), as opposed to one worth retrying. */
function asRejection(error: unknown): { status: string; message: string } | undefined {
  if (error instanceof RunNotRunnableError) return { status: error.status, message: error.message };
  if (error instanceof InvalidImageNameError) {
    return { status: RunStatus.NoDockerImage, message: `The task's image is not a valid image reference: ${error.message}` };
  }
  if (error instanceof AgentError && error.code === 'V6_KUBE_API_ERROR' && !error.retryable) {
    return { status: RunStatus.StartFailed, message: `The cluster refused the run's objects: ${error.message}` };
  }
  if (error instanceof KubeSpecError) {
    const status = 'runStatus' in error && typeof error.runStatus === 'string' ? error.runStatus : RunStatus.Failed;
    return { status, message: error.message };
  }
  return undefined;
}

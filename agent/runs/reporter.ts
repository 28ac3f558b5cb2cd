import { UnrecoverableError, type Job } from 'bullmq';
import { AgentError, ServerResponseError } from '../errors.js';
import { ALGORITHM_CONTAINER, runObjectName } from '../kube/names.js';
import { protocolOf } from '../config.js';
import { toServerDatetime } from '../protocol/datetime.js';
import { run5Of } from '../protocol/run-5.js';
import { DataframeUnreadableError } from '../sessions/dataframe-columns.js';
import { RunStatus } from '../protocol/run-status.js';
import type { ReportJobData } from '../../queue/run-queues.js';
import type { RunContext } from './context.js';
import { RunFileRefusedError } from './hostile-files.js';
import { MAX_LOG_BYTES, OutputTooLargeError } from './run-files.js';
import type { ServerRun } from '../server/types.js';

/** What vantage6 puts in the run log when the node does not share algorithm logs (spec A6). */
export const LOGS_NOT_SHARED = 'Node does not allow sharing algorithm logs';

/**
 * Delivers a finished run to the server: its output encrypted for the task's initiating
 * organization, its log and status, in one PATCH (the server nulls what a PATCH omits). A
 * failure to deliver is retried by the queue with backoff; the Job, Secret and files are removed
 * only once the server has the result, so nothing is lost while the server is away.
 */
export class Reporter {
  constructor(private readonly ctx: RunContext) {}

  async process(job: Job<ReportJobData>): Promise<void> {
    const { runId, taskId } = job.data;
    const logger = this.ctx.logger.child({ runId, taskId });
    if (job.attemptsMade > 0) this.ctx.metrics.reportRetried?.();
    try {
      await this.report(job.data, logger);
    } catch (error) {
      if (error instanceof ServerResponseError && error.status === 404) {
        logger.warn('the server does not know this run (any more); dropping its report');
        await this.cleanUp(runId);
        return;
      }
      if (error instanceof AgentError && !error.retryable) {
        logger.error({ err: error }, 'the server refused the report; it will not be retried');
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
  }

  private async report(data: ReportJobData, logger: RunContext['logger']): Promise<void> {
    const { ctx } = this;
    const run = await ctx.runs.run(data.runId);
    if (run.finished_at !== null) {
      logger.info({ status: run.status }, 'run is finished at the server already; cleaning up');
      await this.cleanUp(data.runId);
      return;
    }
    const log = await this.collectLog(data.runId);
    let { status, reason } = data;
    let output: Buffer = Buffer.alloc(0);
    // A completed run was read as a 5 run at launch already, so this cannot refuse it.
    const v5 = status === RunStatus.Completed && protocolOf(ctx.config) === 5 ? run5Of(run) : undefined;
    if (status === RunStatus.Completed && v5?.dataframe !== undefined) {
      ({ status, reason } = await this.storeDataframe(data.runId, v5.sessionId, v5.dataframe, logger));
    } else if (status === RunStatus.Completed) {
      try {
        output = await ctx.files.readOutput(data.runId, ctx.config.results.max_output_bytes);
      } catch (error) {
        if (!(error instanceof OutputTooLargeError || error instanceof RunFileRefusedError)) throw error;
        logger.warn({ err: error }, 'Refused the run\'s output');
        status = RunStatus.Failed;
        reason = `The result was not sent: ${error.message}.`;
      }
    }
    // vantage6 sends no result for a run it did not allow; the server refuses a null result.
    const result = status === RunStatus.NotAllowed ? undefined : await this.encryptResult(run, output);
    const started = Date.now();
    try {
      await ctx.runs.patchRun(data.runId, {
        ...(result === undefined ? {} : { result }),
        log: runLog(ctx.config.share_algorithm_logs ? log : LOGS_NOT_SHARED, status, reason),
        status,
        finished_at: toServerDatetime(ctx.now()),
      });
    } catch (error) {
      if (!isAlreadyFinished(error)) throw error;
      logger.info('run was finished at the server meanwhile (killed?)');
    }
    ctx.metrics.reportLatency?.((Date.now() - started) / 1000);
    ctx.metrics.runFinished?.(status);
    logger.info({ status, reason }, 'Reported run');
    ctx.events.statusChanged({ runId: data.runId, taskId: data.taskId, parentId: run.task.parent?.id ?? null }, status);
    await this.cleanUp(data.runId);
  }

  /**
   * A 5 extraction or preprocessing run's output, stored as the session's dataframe and its
   * columns reported to the hub (upstream's `RunIO`); its result is empty. Output that is not a
   * parquet table is `unexpected output`, and nothing is stored.
   */
  private async storeDataframe(
    runId: number,
    sessionId: number,
    dataframe: { id: number; name: string },
    logger: RunContext['logger'],
  ): Promise<{ status: string; reason: string }> {
    let columns;
    try {
      columns = await this.ctx.sessions.store(sessionId, dataframe.name, runId);
    } catch (error) {
      if (!(error instanceof DataframeUnreadableError || error instanceof RunFileRefusedError)) throw error;
      logger.warn({ err: error, sessionId, dataframe: dataframe.name }, 'Refused the run\'s output as a dataframe');
      return { status: RunStatus.UnexpectedOutput, reason: `The output is not a parquet table, so dataframe '${dataframe.name}' was not stored: ${error.message}.` };
    }
    await this.ctx.runs.reportColumns(dataframe.id, columns);
    logger.info({ sessionId, dataframe: dataframe.name, columns: columns.length }, 'Stored the session dataframe');
    return { status: RunStatus.Completed, reason: '' };
  }

  /** The container's log, read once from the cluster and kept on the task volume until delivered. */
  private async collectLog(runId: number): Promise<string> {
    const saved = await this.ctx.files.savedLog(runId);
    if (saved !== undefined) return saved;
    const pods = this.ctx.informer.podsOfRun(runId);
    const logs: string[] = [];
    for (const pod of pods) {
      const text = await this.ctx.objects.readLog(pod.metadata?.name ?? '', ALGORITHM_CONTAINER, MAX_LOG_BYTES / pods.length);
      if (text) logs.push(text);
    }
    const log = logs.join('\n');
    await this.ctx.files.saveLog(runId, log);
    return log;
  }

  private async encryptResult(run: ServerRun, output: Buffer): Promise<string> {
    const { cryptor, runs } = this.ctx;
    if (!cryptor.encrypted) return cryptor.encryptBytesToStr(output, '');
    const publicKey = await runs.organizationPublicKey(run.task.init_org.id);
    if (!publicKey) {
      throw new AgentError(
        'V6_ENCRYPTION_MISMATCH',
        `organization ${run.task.init_org.id} has no public key at the server, so the result cannot be encrypted for it; it is kept until that organization's node uploads its key`,
        { retryable: true },
      );
    }
    return cryptor.encryptBytesToStr(output, publicKey);
  }

  private async cleanUp(runId: number): Promise<void> {
    await this.ctx.liveTokens.revoke(runId);
    await this.ctx.objects.deleteRunObjects(runObjectName(this.ctx.identity.nodeId, runId));
    await this.ctx.files.remove(runId);
    await this.ctx.markers.forget(runId);
  }
}

/** The run log: the algorithm's output and, for anything but success, the node's reason. */
export function runLog(algorithmLog: string, status: string, reason: string): string {
  if (status === RunStatus.Completed) return algorithmLog;
  const note = `[v6-node] ${status}: ${reason}`;
  return algorithmLog === '' ? note : `${algorithmLog.replace(/\n?$/, '\n')}${note}`;
}

function isAlreadyFinished(error: unknown): boolean {
  return (
    error instanceof ServerResponseError &&
    error.status === 400 &&
    JSON.stringify(error.body).includes('already finished')
  );
}

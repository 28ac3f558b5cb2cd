import { DelayedError, Queue, Worker, type Job, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { backoffDelay } from './backoff.js';

/** What a queue job carries: the run it is about. Everything else is read from the server and the cluster. */
export interface RunJobData {
  readonly runId: number;
  readonly taskId: number;
}

/** A report also carries the terminal state the agent observed, in case the Job is gone by the time it is sent. */
export interface ReportJobData extends RunJobData {
  readonly status: string;
  readonly reason: string;
}

export type QueueName = 'launch' | 'report';

export interface RunQueuesOptions {
  readonly redisUrl: string;
  readonly redisPassword?: string | undefined;
  /** Key prefix in Redis: two agents sharing a Redis need different prefixes. */
  readonly prefix: string;
  readonly logger: Logger;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

export interface Processors {
  /** `token` is the worker's lock token, which `deferLaunch` needs. */
  launch(job: Job<RunJobData>, token: string | undefined): Promise<void>;
  report(job: Job<ReportJobData>): Promise<void>;
}

/** The outcome of an enqueue: BullMQ ignores an add whose job id exists, which is our dedupe. */
export type EnqueueResult = 'added' | 'exists' | 'retried';

// Retryable failures (server or cluster unreachable) are retried practically forever with a
// capped backoff; failures that must not be retried are reported as a run status by the
// processors instead of failing the queue job.
const ATTEMPTS = 1_000_000;

const LOCK_DURATION_MS = 10_000;

interface Enqueueable<T> {
  readonly name: string;
  getJob(id: string): Promise<Job<T> | undefined>;
  add(name: string, data: T, options: { jobId: string }): Promise<unknown>;
}

/** Job ids derive from run ids, so a run is queued at most once per queue. */
export function launchJobId(runId: number): string {
  return `run-${runId}`;
}

export function reportJobId(runId: number): string {
  return `report-${runId}`;
}

/**
 * The agent's two durable queues in Redis: `launch` (a run received, to be started as a Job)
 * and `report` (a run finished, its result to be delivered). Both survive agent restarts.
 */
export class RunQueues {
  readonly launch: Queue<RunJobData>;
  readonly report: Queue<ReportJobData>;
  private readonly connection: ConnectionOptions;
  private readonly prefix: string;
  private readonly logger: Logger;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private workers: Worker[] = [];
  private closing: Promise<void> | undefined;

  constructor(options: RunQueuesOptions) {
    this.prefix = options.prefix;
    this.logger = options.logger;
    this.baseMs = options.backoffBaseMs ?? 1_000;
    this.maxMs = options.backoffMaxMs ?? 60_000;
    this.connection = {
      url: options.redisUrl,
      ...(options.redisPassword ? { password: options.redisPassword } : {}),
    };
    const queueOptions = {
      prefix: this.prefix,
      // Producers fail fast when Redis is down instead of buffering commands in memory.
      connection: { ...this.connection, enableOfflineQueue: false },
      defaultJobOptions: {
        attempts: ATTEMPTS,
        backoff: { type: 'capped-exponential' },
        removeOnComplete: { age: 7 * 86_400 },
        removeOnFail: false,
      },
    };
    this.launch = new Queue<RunJobData>('launch', queueOptions);
    this.report = new Queue<ReportJobData>('report', queueOptions);
    // Without a listener BullMQ writes every failed reconnect to stderr with console.error while
    // Redis is down; the connection reconnects by itself and readiness reports the outage.
    for (const queue of [this.launch, this.report]) {
      queue.on('error', (error) => this.logger.debug({ queue: queue.name, err: error.message }, 'queue connection error'));
    }
  }

  /** Resolves once both queues reach Redis. */
  async ready(): Promise<void> {
    await Promise.all([this.launch.waitUntilReady(), this.report.waitUntilReady()]);
  }

  async enqueueLaunch(data: RunJobData): Promise<EnqueueResult> {
    return this.enqueue(this.launch, launchJobId(data.runId), data);
  }

  async enqueueReport(data: ReportJobData): Promise<EnqueueResult> {
    return this.enqueue(this.report, reportJobId(data.runId), data);
  }

  /** Whether a report for this run is queued or being sent (then the run must not be launched). */
  async hasPendingReport(runId: number): Promise<boolean> {
    const state = await this.report.getJobState(reportJobId(runId));
    return state !== 'unknown' && state !== 'completed';
  }

  /** Removes a launch job that has not started yet (kill while queued). False if it is running or gone. */
  async removeQueuedLaunch(runId: number): Promise<boolean> {
    const job = await this.launch.getJob(launchJobId(runId));
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
    try {
      await job.remove();
      return true;
    } catch {
      // Picked up by a worker in the meantime: the worker sees the kill itself.
      return false;
    }
  }

  /**
   * Puts a launch back for `ms` without counting an attempt (the cap on live Jobs is reached, or
   * isolation is not confirmed); the processor throws the returned error. Only this run waits:
   * holding the whole queue instead would starve the launches that repair a run already in the
   * cluster, which is what frees the cap.
   */
  async deferLaunch(job: Job<RunJobData>, token: string | undefined, ms: number): Promise<Error> {
    await job.moveToDelayed(Date.now() + ms, token);
    return new DelayedError();
  }

  startWorkers(processors: Processors, concurrency: { launch: number; report: number }): void {
    const settings = {
      backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade, this.baseMs, this.maxMs),
    };
    const common = {
      prefix: this.prefix,
      connection: { ...this.connection, maxRetriesPerRequest: null },
      settings,
      // A job held by an agent that died is taken up again once its lock lapses and the stall
      // check runs: 10 s each instead of BullMQ's 30 s (a live worker renews its locks every 5 s).
      lockDuration: LOCK_DURATION_MS,
      stalledInterval: LOCK_DURATION_MS,
    };
    const launch = new Worker<RunJobData>('launch', (job, token) => processors.launch(job, token), {
      ...common,
      concurrency: concurrency.launch,
    });
    const report = new Worker<ReportJobData>('report', (job) => processors.report(job), {
      ...common,
      concurrency: concurrency.report,
    });
    for (const worker of [launch, report]) {
      worker.on('failed', (job, error) => {
        this.logger.warn(
          { queue: worker.name, runId: job?.data.runId, attempt: job?.attemptsMade, err: error.message },
          'queue job failed; it will be retried',
        );
      });
      worker.on('error', (error) => this.logger.error({ queue: worker.name, err: error.message }, 'queue worker error'));
    }
    this.workers = [launch, report];
  }

  /** Closes workers first (in-flight jobs finish or are handed back by their lock), then the queues. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.workers.map((worker) => worker.close()));
      await Promise.all([this.launch.close(), this.report.close()]);
    })();
    return this.closing;
  }

  private async enqueue<T extends RunJobData>(queue: Enqueueable<T>, jobId: string, data: T): Promise<EnqueueResult> {
    const existing = await queue.getJob(jobId);
    if (existing) {
      if ((await existing.getState()) !== 'failed') return 'exists';
      await existing.retry('failed');
      return 'retried';
    }
    // Two agents racing on the same id are still safe: BullMQ ignores the second add.
    await queue.add(queue.name, data, { jobId });
    return 'added';
  }
}

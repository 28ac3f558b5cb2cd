import { DelayedError, Queue, Worker, type Job, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { backoffDelay } from './backoff.js';

/**
 * What a queue job carries: the run it is about, and the server scope (server-scope.ts) it was
 * queued for; everything else is read from the server and the cluster. Jobs queued before scopes
 * existed have none and count as the current server's.
 */
export interface RunJobData {
  readonly runId: number;
  readonly taskId: number;
  readonly server?: string;
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
  /** The server scope (server-scope.ts) of the jobs this agent queues and processes. */
  readonly scope: string;
  readonly logger: Logger;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

export interface Processors {
  /** `token` is the worker's lock token, which `deferLaunch` needs. */
  launch(job: Job<RunJobData>, token: string | undefined): Promise<void>;
  report(job: Job<ReportJobData>): Promise<void>;
}

/**
 * The outcome of an enqueue: BullMQ ignores an add whose job id exists, which is our dedupe
 * (`exists`); a failed job is retried, a finished one queued again (`requeued`).
 */
export type EnqueueResult = 'added' | 'exists' | 'retried' | 'requeued';

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

/** Job ids derive from the server scope and the run id, so a run of a server is queued at most once per queue. */
export function launchJobId(scope: string, runId: number): string {
  return `run-${scope}-${runId}`;
}

export function reportJobId(scope: string, runId: number): string {
  return `report-${scope}-${runId}`;
}

/**
 * The agent's two durable queues in Redis: `launch` (a run received, to be started as a Job)
 * and `report` (a run finished, its result to be delivered). Both survive agent restarts.
 */
export class RunQueues {
  readonly launch: Queue<RunJobData>;
  readonly report: Queue<ReportJobData>;
  readonly scope: string;
  private readonly connection: ConnectionOptions;
  private readonly prefix: string;
  private readonly logger: Logger;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private workers: Worker[] = [];
  private closing: Promise<void> | undefined;

  constructor(options: RunQueuesOptions) {
    this.prefix = options.prefix;
    this.scope = options.scope;
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
        // Finished launches and reports are kept a day, at most 5,000 of each (issue 13: a busy
        // node kept every run of a week in Redis); a failed one stays until it is retried.
        removeOnComplete: { age: 86_400, count: 5_000 },
        removeOnFail: false,
      },
    };
    this.launch = new Queue<RunJobData>('launch', queueOptions);
    this.report = new Queue<ReportJobData>('report', queueOptions);
    // Without a listener BullMQ writes every failed reconnect to stderr with console.error while
    // Redis is down; the connection reconnects by itself and readiness reports the outage.
    for (const queue of [this.launch, this.report]) {
      queue.on('error', (error) => this.logger.debug({ queue: queue.name, err: error }, 'queue connection error'));
    }
  }

  /** Resolves once both queues reach Redis. */
  async ready(): Promise<void> {
    await Promise.all([this.launch.waitUntilReady(), this.report.waitUntilReady()]);
  }

  /**
   * Queues a launch: "look at this run". A run whose launch job is finished is queued again, so
   * an open run is always reconciled from what the server says, whatever the queue remembers
   * (a re-created server numbers its runs from 1 again).
   */
  async enqueueLaunch(data: RunJobData): Promise<EnqueueResult> {
    return this.enqueue(this.launch, launchJobId(this.scope, data.runId), { ...data, server: this.scope });
  }

  /** Queues a report; one already delivered is queued again (the reporter sees at the server whether it is still due). */
  async enqueueReport(data: ReportJobData): Promise<EnqueueResult> {
    return this.enqueue(this.report, reportJobId(this.scope, data.runId), { ...data, server: this.scope });
  }

  /** The launch job of a run, if the queue still has it. */
  async launchJob(runId: number): Promise<Job<RunJobData> | undefined> {
    return this.launch.getJob(launchJobId(this.scope, runId));
  }

  /** Whether a report for this run is queued or being sent (then the run must not be launched). */
  async hasPendingReport(runId: number): Promise<boolean> {
    const state = await this.report.getJobState(reportJobId(this.scope, runId));
    return state !== 'unknown' && state !== 'completed';
  }

  /** Whether the queue has any report of this run, delivered or not. */
  async hasReport(runId: number): Promise<boolean> {
    return (await this.report.getJobState(reportJobId(this.scope, runId))) !== 'unknown';
  }

  /** Removes a launch job that has not started yet (kill while queued). False if it is running or gone. */
  async removeQueuedLaunch(runId: number): Promise<boolean> {
    const job = await this.launchJob(runId);
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
    const launch = new Worker<RunJobData>('launch', (job, token) => (this.ours(job) ? processors.launch(job, token) : Promise.resolve()), {
      ...common,
      concurrency: concurrency.launch,
    });
    const report = new Worker<ReportJobData>('report', (job) => (this.ours(job) ? processors.report(job) : Promise.resolve()), {
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
      worker.on('error', (error) => this.logger.error({ queue: worker.name, err: error }, 'queue worker error'));
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

  /**
   * Whether a job is for the server this agent is logged in to. One queued for another server
   * (the node was pointed elsewhere with jobs still queued) is dropped: its run ids mean other
   * runs here, and a report would land on the wrong run.
   */
  private ours(job: Job<RunJobData>): boolean {
    if (job.data.server === undefined || job.data.server === this.scope) return true;
    this.logger.warn({ queue: job.queueName, runId: job.data.runId, server: job.data.server, current: this.scope }, 'queue job is for another vantage6 server; dropping it');
    return false;
  }

  private async enqueue<T extends RunJobData>(queue: Enqueueable<T>, jobId: string, data: T): Promise<EnqueueResult> {
    const existing = await queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'failed') {
        await existing.retry('failed');
        return 'retried';
      }
      if (state !== 'completed') return 'exists';
      // Finished: queued again with what is known now. A worker cannot hold a completed job, so
      // the remove only races with another enqueue, whose add then wins (same id).
      await existing.remove().catch(() => undefined);
      await queue.add(queue.name, data, { jobId });
      return 'requeued';
    }
    // Two agents racing on the same id are still safe: BullMQ ignores the second add.
    await queue.add(queue.name, data, { jobId });
    return 'added';
  }
}

import test from 'ava';
import { pino } from 'pino';
import type { Job } from 'bullmq';
import { startRedis, type RedisServer } from '../test/support/redis.js';
import { RunQueues, type ReportJobData, type RunJobData } from './run-queues.js';

const logger = pino({ level: 'silent' });
let redis: RedisServer;
let counter = 0;

test.before(async () => {
  redis = await startRedis({ appendonly: true });
});
test.after.always(async () => {
  await redis.close();
});

function open(prefix: string): RunQueues {
  return new RunQueues({ redisUrl: redis.url, prefix, scope: 'server-a', logger, backoffBaseMs: 10, backoffMaxMs: 20 });
}

function uniquePrefix(): string {
  counter += 1;
  return `test-${process.pid}-${counter}`;
}

test('a run is queued once however often it is received', async (t) => {
  const queues = open(uniquePrefix());
  t.teardown(() => queues.close());
  t.is(await queues.enqueueLaunch({ runId: 1, taskId: 1 }), 'added');
  t.is(await queues.enqueueLaunch({ runId: 1, taskId: 1 }), 'exists');
  t.is(await queues.enqueueLaunch({ runId: 2, taskId: 1 }), 'added');
  t.is(await queues.launch.count(), 2);
});

// Serial: ava runs serial tests before the others, and this one stops Redis under every queue of the file.
test.serial('queued runs survive a restart of the agent and of Redis', async (t) => {
  const prefix = uniquePrefix();
  const first = open(prefix);
  await first.enqueueLaunch({ runId: 7, taskId: 3 });
  await first.enqueueReport({ runId: 8, taskId: 3, status: 'completed', reason: 'done' });
  await first.close();
  await redis.stop();
  await redis.start();

  const second = open(prefix);
  t.teardown(() => second.close());
  const seen: Array<RunJobData | ReportJobData> = [];
  const done = new Promise<void>((resolve) => {
    const record = async (job: Job<RunJobData> | Job<ReportJobData>) => {
      seen.push(job.data);
      if (seen.length === 2) resolve();
    };
    second.startWorkers({ launch: record, report: record }, { launch: 1, report: 1 });
  });
  await done;
  t.deepEqual(
    seen.sort((a, b) => a.runId - b.runId),
    [{ runId: 7, taskId: 3, server: 'server-a' }, { runId: 8, taskId: 3, status: 'completed', reason: 'done', server: 'server-a' }],
  );
});

test('a failed processor is retried with backoff until it succeeds', async (t) => {
  const queues = open(uniquePrefix());
  t.teardown(() => queues.close());
  let calls = 0;
  const done = new Promise<void>((resolve) => {
    queues.startWorkers(
      {
        launch: async () => {
          calls += 1;
          if (calls < 3) throw new Error('server unreachable');
          resolve();
        },
        report: async () => {},
      },
      { launch: 1, report: 1 },
    );
  });
  await queues.enqueueLaunch({ runId: 11, taskId: 1 });
  await done;
  t.is(calls, 3);
});

test('a queued launch can be removed before a worker takes it, and a pending report is visible', async (t) => {
  const queues = open(uniquePrefix());
  t.teardown(() => queues.close());
  await queues.enqueueLaunch({ runId: 21, taskId: 2 });
  t.true(await queues.removeQueuedLaunch(21));
  t.false(await queues.removeQueuedLaunch(21));
  t.is(await queues.launch.count(), 0);

  t.false(await queues.hasPendingReport(22));
  await queues.enqueueReport({ runId: 22, taskId: 2, status: 'crashed', reason: 'exit 1' });
  t.true(await queues.hasPendingReport(22));
});

test('a finished job is queued again (the run is looked at anew); jobs of another server scope are dropped unprocessed', async (t) => {
  const prefix = uniquePrefix();
  const other = new RunQueues({ redisUrl: redis.url, prefix, scope: 'server-b', logger });
  t.teardown(() => other.close());
  t.is(await other.enqueueLaunch({ runId: 31, taskId: 9 }), 'added');
  await other.close();

  const queues = open(prefix);
  t.teardown(() => queues.close());
  const seen: number[] = [];
  let done: () => void = () => {};
  queues.startWorkers(
    {
      launch: async (job) => {
        seen.push(job.data.runId);
        done();
      },
      report: async () => {},
    },
    { launch: 1, report: 1 },
  );
  const processed = () => new Promise<void>((resolve) => (done = resolve));
  let next = processed();
  t.is(await queues.enqueueLaunch({ runId: 31, taskId: 4 }), 'added', 'the same run id at another server is another job');
  await next;
  next = processed();
  t.is(await queues.enqueueLaunch({ runId: 31, taskId: 4 }), 'requeued');
  await next;
  t.deepEqual(seen, [31, 31]);
  const foreign = await queues.launch.getJob('run-server-b-31');
  t.is(await foreign?.getState(), 'completed', "server b's job was taken and dropped, never processed");
});

/**
 * `v6-node status`: reads the node's queues from Redis and its Jobs and pods from the cluster
 * (nothing from the vantage6 server, so it also works while the server is away).
 */
import { BatchV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RunQueues, type RunJobData } from '../../queue/run-queues.js';
import type { Config } from '../config.js';
import { nodeSelector } from '../kube/names.js';
import { readNodeId } from './node-record.js';
import { buildStatus, type QueuedJob, type StatusReport } from './report.js';

const LIVE_STATES = ['waiting', 'prioritized', 'delayed', 'active'] as const;

export async function gatherStatus(options: { config: Config; kubeConfig: KubeConfig; nodeId?: number; now?: () => number }): Promise<StatusReport> {
  const { config, kubeConfig } = options;
  const redis = new Redis(config.redis.url, { password: config.redis.password, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  const queues = new RunQueues({
    redisUrl: config.redis.url,
    redisPassword: config.redis.password,
    prefix: config.queue.prefix,
    // Only counts and lists jobs, of whichever server: it queues nothing.
    scope: '',
    logger: pino({ level: 'silent' }),
  });
  try {
    await redis.connect();
    const nodeId = options.nodeId ?? (await readNodeId(redis, config.queue.prefix));
    const counts: Record<string, Record<string, number>> = {};
    const queued: QueuedJob[] = [];
    for (const [name, queue] of [
      ['launch', queues.launch],
      ['report', queues.report],
    ] as const) {
      counts[name] = await queue.getJobCounts();
      for (const state of LIVE_STATES) {
        for (const job of await queue.getJobs([state])) {
          if (!job) continue;
          const data = job.data as RunJobData;
          queued.push({ queue: name, state, runId: data.runId, taskId: data.taskId, timestamp: job.timestamp });
        }
      }
    }
    const namespace = config.kubernetes.namespace;
    const labelSelector = nodeId === undefined ? undefined : nodeSelector(nodeId);
    const [jobs, pods] = labelSelector
      ? await Promise.all([
          kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace, labelSelector }),
          kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector }),
        ])
      : [{ items: [] }, { items: [] }];
    return buildStatus({ nodeId, namespace, queues: counts, queued, jobs: jobs.items, pods: pods.items, now: (options.now ?? Date.now)() });
  } finally {
    await queues.close();
    redis.disconnect();
  }
}

import type { Redis } from 'ioredis';

/**
 * Which vantage6 node owns a queue prefix, written by the agent after login so that
 * `v6-node status` can find the node's Jobs (labelled by node id) without logging in itself.
 */
export function nodeRecordKey(prefix: string): string {
  return `${prefix}:node`;
}

export async function recordNode(redis: Redis, prefix: string, node: { nodeId: number; nodeName?: string | undefined }): Promise<void> {
  await redis.hset(nodeRecordKey(prefix), { id: String(node.nodeId), name: node.nodeName ?? '', since: new Date().toISOString() });
}

export async function readNodeId(redis: Redis, prefix: string): Promise<number | undefined> {
  const id = await redis.hget(nodeRecordKey(prefix), 'id');
  return id === null || !/^\d+$/.test(id) ? undefined : Number(id);
}

import { createHash } from 'node:crypto';

/**
 * Which vantage6 server (and which node at it) queue jobs and run markers belong to: run ids
 * are only unique at one server, and a node pointed at another server, or a re-created one,
 * shares its Redis with what the old one left. The server's API base URL and the node's id there
 * (from login) are what identify it: vantage6 4.x returns nothing unique to a server instance,
 * so a fresh server at the same URL with the same node id has the same scope, and what covers
 * that case is the re-look at open runs whose queue job is finished (RunQueues.enqueue). Pure.
 */
export function serverScope(apiBase: string, nodeId: number): string {
  return createHash('sha256').update(`${apiBase.replace(/\/+$/, '')}\n${nodeId}`, 'utf8').digest('hex').slice(0, 12);
}

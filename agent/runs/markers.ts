import type { Redis } from 'ioredis';

/** How long the agent remembers a run's markers: well past any run's deadline. */
const MARKER_TTL_SECONDS = 30 * 86_400;

/**
 * Durable facts about runs that neither the server nor the cluster records: that the agent
 * created a run's Job (so a Job that vanished is not created again) and that a run was killed
 * (so a launch racing with the kill deletes what it created). Kept in Redis next to the queues.
 */
export class RunMarkers {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(runId: number): string {
    return `${this.prefix}:run:${runId}`;
  }

  async markLaunched(runId: number): Promise<void> {
    await this.redis.multi().hset(this.key(runId), 'launched', Date.now()).expire(this.key(runId), MARKER_TTL_SECONDS).exec();
  }

  async markKilled(runId: number): Promise<void> {
    await this.redis.multi().hset(this.key(runId), 'killed', Date.now()).expire(this.key(runId), MARKER_TTL_SECONDS).exec();
  }

  async read(runId: number): Promise<{ launched: boolean; killed: boolean }> {
    const fields = await this.redis.hmget(this.key(runId), 'launched', 'killed');
    return { launched: fields[0] !== null, killed: fields[1] !== null };
  }
}

import type { Redis } from 'ioredis';

/** How long the agent remembers a run's markers: well past any run's deadline. */
const MARKER_TTL_SECONDS = 30 * 86_400;
/** How long a kill is remembered after the run's report: longer than any launch attempt takes. */
const KILL_KEPT_SECONDS = 3_600;

/**
 * Durable facts about runs that neither the server nor the cluster records: that the agent
 * created a run's Job (so a Job that vanished is not created again) and that a run was killed
 * (so a launch racing with the kill deletes what it created). Kept in Redis next to the queues,
 * per server scope (queue/server-scope.ts), until the run's result is delivered: a re-created
 * server that numbers a new run like an old one must not find the old run's markers.
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

  /**
   * Forgets that a run was launched once its result is at the server, which from then on says
   * it is finished. A kill is kept a while longer, for a launch that read the run before the
   * kill and is still creating its Job.
   */
  async forget(runId: number): Promise<void> {
    await this.redis.multi().hdel(this.key(runId), 'launched').expire(this.key(runId), KILL_KEPT_SECONDS).exec();
  }

  async read(runId: number): Promise<{ launched: boolean; killed: boolean }> {
    const fields = await this.redis.hmget(this.key(runId), 'launched', 'killed');
    return { launched: fields[0] !== null, killed: fields[1] !== null };
  }
}

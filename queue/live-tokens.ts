import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * How long a grant lives if the agent never revokes it (crash, lost Redis write): well past any
 * run's deadline, as a safety net only. The agent revokes a run's token when it reports or kills it.
 */
export const LIVE_TOKEN_TTL_SECONDS = 30 * 86_400;

/** The SHA-256 of a token, hex: the only form in which a token is stored. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The container tokens of the runs active on this node, in Redis: the agent grants a run's token
 * before it creates the run's Job and revokes it once the run is reported or killed; the proxy
 * asks which run a token belongs to and lets only live runs through.
 *
 * Two keys per run: `<prefix>:live-token:<sha256>` → run id, and `<prefix>:live-run:<run id>` →
 * sha256. A token counts only while both agree, so revoking is one DEL of the run key and a
 * re-grant with a new token retires the old one, whatever order concurrent calls land in. Tokens
 * themselves never reach Redis.
 */
export class LiveTokens {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlSeconds: number;

  constructor(redis: Redis, prefix: string, options: { ttlSeconds?: number } = {}) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#ttlSeconds = options.ttlSeconds ?? LIVE_TOKEN_TTL_SECONDS;
  }

  /** Marks `token` as the live token of run `runId`, replacing any earlier one. */
  async grant(runId: number, token: string): Promise<void> {
    const digest = tokenDigest(token);
    const results = await this.#redis
      .multi()
      .set(this.#tokenKey(digest), String(runId), 'EX', this.#ttlSeconds)
      .set(this.#runKey(runId), digest, 'EX', this.#ttlSeconds)
      .exec();
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (results === null || failed) throw failed ?? new Error('live token grant was aborted');
  }

  /** Ends run `runId`'s token. Idempotent. */
  async revoke(runId: number): Promise<void> {
    const digest = await this.#redis.getdel(this.#runKey(runId));
    // The run key alone decides; the token key is removed only to keep Redis tidy.
    if (digest !== null) await this.#redis.del(this.#tokenKey(digest));
  }

  /** The run whose live token `token` is, or undefined (never granted, revoked, or replaced). */
  async runOf(token: string): Promise<number | undefined> {
    const digest = tokenDigest(token);
    const runId = await this.#redis.get(this.#tokenKey(digest));
    if (runId === null) return undefined;
    const current = await this.#redis.get(this.#runKey(Number(runId)));
    return current === digest ? Number(runId) : undefined;
  }

  #tokenKey(digest: string): string {
    return `${this.#prefix}:live-token:${digest}`;
  }

  #runKey(runId: number): string {
    return `${this.#prefix}:live-run:${runId}`;
  }
}

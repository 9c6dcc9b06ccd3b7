import { Inject, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { Redis } from 'ioredis';

export const REDIS_TIMEOUT_MS = 1000;

/** PING on the shared command connection (present only when REDIS_URL is set). */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Optional() @Inject(Redis) private readonly redis?: Redis,
  ) {}

  get configured(): boolean {
    return this.redis !== undefined;
  }

  check(key = 'redis'): PromiseLike<HealthIndicatorResult> {
    const redis = this.redis;
    return this.indicators
      .check(key)
      .attempt(async () => {
        if (!redis) throw new Error('REDIS_URL is not set');
        // The connection has no offline queue: while Redis is unreachable this fails at once.
        const reply = await redis.ping();
        if (reply !== 'PONG') throw new Error(`unexpected PING reply ${reply}`);
        return { connection: redis.status };
      })
      .withTimeout(REDIS_TIMEOUT_MS);
  }
}

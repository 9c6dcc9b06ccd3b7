import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisKeys } from '../redis/redis.module.js';

/** Where a limiter keeps its counters: this process, or Redis shared by every node. */
export abstract class LimiterStore {
  /** A limiter allowing `points` per key in each fixed window of `durationSec` seconds. */
  abstract create(name: string, points: number, durationSec: number): RateLimiterAbstract;
}

export class MemoryLimiterStore extends LimiterStore {
  create(name: string, points: number, durationSec: number): RateLimiterAbstract {
    return new RateLimiterMemory({ keyPrefix: name, points, duration: durationSec });
  }
}

/**
 * Counters under `<REDIS_PREFIX>:rate:<name>:<key>`. While Redis is unreachable each node
 * enforces the limit on its own (the insurance limiter) rather than refuse everything
 * (UNAVAILABLE for every frame) or let everything through.
 */
export class RedisLimiterStore extends LimiterStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    super();
  }

  create(name: string, points: number, durationSec: number): RateLimiterAbstract {
    return new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix: this.keys.key('rate', name),
      points,
      duration: durationSec,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration: durationSec }),
    });
  }
}

import { Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisKeys } from '../redis/redis.module.js';
import { AdminRateGuard } from './admin-rate.guard.js';
import { LimiterStore, MemoryLimiterStore, RedisLimiterStore } from './limiter-store.js';
import { RateLimitService } from './rate-limit.service.js';

/** Rate limits: counters in Redis when there is one (one limit for the whole cluster), else in this process. */
@Module({
  providers: [
    RateLimitService,
    AdminRateGuard,
    {
      provide: LimiterStore,
      inject: [{ token: Redis, optional: true }, RedisKeys],
      useFactory: (redis: Redis | undefined, keys: RedisKeys) =>
        redis ? new RedisLimiterStore(redis, keys) : new MemoryLimiterStore(),
    },
  ],
  exports: [RateLimitService, AdminRateGuard],
})
export class RateLimitModule {}

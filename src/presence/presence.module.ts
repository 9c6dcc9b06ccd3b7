import { Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisKeys } from '../redis/redis.module.js';
import { PresenceService } from './presence.service.js';
import { InMemoryPresenceStore, PresenceStore } from './presence.store.js';
import { RedisPresenceStore } from './redis-presence.store.js';

/** Presence lives in Redis when there is one (shared by every node), else in this process. */
@Module({
  providers: [
    PresenceService,
    {
      provide: PresenceStore,
      inject: [{ token: Redis, optional: true }, RedisKeys],
      useFactory: (redis: Redis | undefined, keys: RedisKeys) =>
        redis ? new RedisPresenceStore(redis, keys) : new InMemoryPresenceStore(),
    },
  ],
  exports: [PresenceService],
})
export class PresenceModule {}

import { Module, type Provider } from '@nestjs/common';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import type { Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { OfflineModule } from '../offline/offline.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { RedisKeys } from '../redis/redis.module.js';
import { IdempotencyStore, MessageRowIdempotencyStore, RedisIdempotencyStore } from './idempotency.store.js';
import { MessageEntity } from './message.entity.js';
import { MessagingService } from './messaging.service.js';
import { LocalRoomLog, RedisRoomLog, RoomLog, StoredSeqReader } from './room-log.js';

/** Binds the room log and idempotency ports to Redis when it is configured, else to the embedded implementations. */
const ports: Provider[] = [
  {
    provide: RoomLog,
    inject: [AppConfig, StoredSeqReader, { token: Redis, optional: true }, RedisKeys],
    useFactory: (config: AppConfig, stored: StoredSeqReader, redis: Redis | undefined, keys: RedisKeys) =>
      config.embedded || !redis ? new LocalRoomLog(stored) : new RedisRoomLog(redis, keys, stored, config),
  },
  {
    provide: IdempotencyStore,
    inject: [AppConfig, { token: Redis, optional: true }, RedisKeys, getRepositoryToken(MessageEntity)],
    useFactory: (
      config: AppConfig,
      redis: Redis | undefined,
      keys: RedisKeys,
      messages: Repository<MessageEntity>,
    ) =>
      config.embedded || !redis
        ? new MessageRowIdempotencyStore(messages, config)
        : new RedisIdempotencyStore(redis, keys, config),
  },
];

@Module({
  imports: [TypeOrmModule.forFeature([MessageEntity]), PresenceModule, OfflineModule, RateLimitModule],
  providers: [MessagingService, StoredSeqReader, ...ports],
  exports: [MessagingService, RoomLog],
})
export class MessagingModule {}

import { Module, type Provider } from '@nestjs/common';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import type { Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { IdempotencyKeyEntity } from './idempotency-key.entity.js';
import { IdempotencyStore, RedisIdempotencyStore, SqlIdempotencyStore } from './idempotency.store.js';
import { MessageEntity } from './message.entity.js';
import { MessagingService } from './messaging.service.js';
import { LocalSeqAllocator, RedisSeqAllocator, SeqAllocator, StoredSeqReader } from './seq-allocator.js';

/** Binds the seq and idempotency ports to Redis when it is configured, else to the embedded implementations. */
const ports: Provider[] = [
  {
    provide: SeqAllocator,
    inject: [AppConfig, StoredSeqReader, { token: Redis, optional: true }, RedisKeys],
    useFactory: (config: AppConfig, stored: StoredSeqReader, redis: Redis | undefined, keys: RedisKeys) =>
      config.embedded || !redis ? new LocalSeqAllocator(stored) : new RedisSeqAllocator(redis, keys, stored),
  },
  {
    provide: IdempotencyStore,
    inject: [
      AppConfig,
      { token: Redis, optional: true },
      RedisKeys,
      getRepositoryToken(IdempotencyKeyEntity),
    ],
    useFactory: (
      config: AppConfig,
      redis: Redis | undefined,
      keys: RedisKeys,
      repo: Repository<IdempotencyKeyEntity>,
    ) =>
      config.embedded || !redis
        ? new SqlIdempotencyStore(repo, config)
        : new RedisIdempotencyStore(redis, keys, config),
  },
];

@Module({
  imports: [TypeOrmModule.forFeature([MessageEntity, IdempotencyKeyEntity])],
  providers: [MessagingService, StoredSeqReader, ...ports],
  exports: [MessagingService],
})
export class MessagingModule {}

import { Global, Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { AppConfig } from '../config/app-config.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RedisKeys } from '../redis/redis.module.js';
import { ClusterBus, LocalBus, RedisBus } from './cluster-bus.js';
import { ClusterService } from './cluster.service.js';

/**
 * Nodes acting as one: the bus between them (Redis pub/sub, or nothing in one process) and
 * the heartbeat that lets survivors clean up after a dead node. Needs a LocalNode from the
 * gateway.
 */
@Global()
@Module({
  imports: [PresenceModule],
  providers: [
    ClusterService,
    {
      provide: ClusterBus,
      inject: [AppConfig, { token: Redis, optional: true }, RedisKeys, Registry],
      useFactory: (config: AppConfig, redis: Redis | undefined, keys: RedisKeys, registry: Registry) =>
        redis ? new RedisBus(redis, keys, config, registry) : new LocalBus(),
    },
  ],
  exports: [ClusterBus, ClusterService],
})
export class ClusterModule {}

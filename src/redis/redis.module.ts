import {
  DynamicModule,
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';

/** Builds every Redis key of the process under REDIS_PREFIX. */
@Injectable()
export class RedisKeys {
  constructor(private readonly config: AppConfig) {}

  key(...parts: Array<string | number>): string {
    return `${this.config.REDIS_PREFIX}:${parts.join(':')}`;
  }
}

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(Redis) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * The shared command connection, injectable as `Redis`, present only when REDIS_URL is set.
 * Commands fail at once while Redis is unreachable (no offline queue), so a request that
 * needs Redis answers UNAVAILABLE instead of hanging; ioredis reconnects on its own.
 */
@Global()
@Module({})
export class RedisModule {
  static forRoot(config: AppConfig): DynamicModule {
    if (!config.REDIS_URL) {
      return { module: RedisModule, providers: [RedisKeys], exports: [RedisKeys] };
    }
    const url = config.REDIS_URL;
    const redis = {
      provide: Redis,
      useFactory: () => {
        const logger = new Logger('Redis');
        const client = new Redis(url, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          enableAutoPipelining: true,
          connectionName: `roomcast:${config.NODE_ID}`,
          retryStrategy: (times) => Math.min(times * 200, 5000),
        });
        let down = false;
        client.on('error', (err) => {
          if (!down) logger.error(`Redis unreachable: ${err.message}`);
          down = true;
        });
        client.on('ready', () => {
          if (down) logger.log('Redis reconnected');
          down = false;
        });
        return client;
      },
    };
    return { module: RedisModule, providers: [redis, RedisKeys, RedisCloser], exports: [Redis, RedisKeys] };
  }
}

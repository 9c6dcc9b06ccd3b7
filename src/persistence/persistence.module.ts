import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';
import { producerConnection } from './bullmq-connections.js';
import { BULL_QUEUES, BullMqJobQueue } from './bullmq-job-queue.js';
import { BullMqWorkers } from './bullmq-workers.js';
import { databaseOptions } from './database-options.js';
import { InProcessJobQueue } from './in-process-job-queue.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobOutcomes } from './job-outcomes.js';
import { JobQueue } from './job-queue.js';
import { jobDefaults, QueueName } from './job-registry.js';
import { AuditProcessor } from './processors/audit.processor.js';
import { MessagesProcessor } from './processors/messages.processor.js';
import { OfflineProcessor } from './processors/offline.processor.js';
import { ReadStateProcessor } from './processors/read-state.processor.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';

const QUEUE_NAMES = Object.values(QueueName);

const bullQueues: Provider = {
  provide: BULL_QUEUES,
  useFactory: (...queues: Queue[]) => new Map(QUEUE_NAMES.map((name, i) => [name, queues[i]])),
  inject: QUEUE_NAMES.map((name) => getQueueToken(name)),
};

/**
 * The database (TypeORM; feature modules add their repositories with forFeature) and the
 * JobQueue port. This is the one place that picks the job driver: BullMQ when REDIS_URL is
 * set, in process otherwise; and the one place that reads ROLE for jobs: processors and
 * workers exist only in processes that run workers (ROLE all|worker), a gateway only
 * produces.
 */
@Global()
@Module({})
export class PersistenceModule {
  static forRoot(config: AppConfig): DynamicModule {
    const database = TypeOrmModule.forRoot(databaseOptions(config.DATABASE_URL, config.DB_MIGRATIONS_RUN));
    const processing = config.runsWorkers
      ? [
          JobHandlerRegistry,
          JobOutcomes,
          MessagesProcessor,
          AuditProcessor,
          OfflineProcessor,
          ReadStateProcessor,
        ]
      : [];
    if (config.embedded) {
      return {
        module: PersistenceModule,
        imports: [DiscoveryModule, database],
        providers: [...processing, SqliteCheckpointer, { provide: JobQueue, useClass: InProcessJobQueue }],
        exports: [JobQueue],
      };
    }
    return {
      module: PersistenceModule,
      imports: [
        DiscoveryModule,
        database,
        BullModule.registerQueue(
          ...QUEUE_NAMES.map((name) => ({
            name,
            prefix: config.REDIS_PREFIX,
            connection: producerConnection(config, name),
            defaultJobOptions: jobDefaults(config),
          })),
        ),
      ],
      providers: [
        ...processing,
        ...(config.runsWorkers ? [BullMqWorkers] : []),
        bullQueues,
        { provide: JobQueue, useClass: BullMqJobQueue },
      ],
      exports: [JobQueue],
    };
  }
}

import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule } from '@bull-board/nestjs';
import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { AdminTokenGuard } from '../admin/admin-token.guard.js';
import { RoomcastError } from '../common/roomcast-error.js';
import type { AppConfig } from '../config/app-config.js';
import { QueueName } from '../persistence/job-registry.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { QueueDashboardAuth } from './queue-dashboard-auth.js';

export const QUEUE_DASHBOARD_ROUTE = 'admin/queues';

@Module({
  imports: [RateLimitModule],
  providers: [AdminTokenGuard, QueueDashboardAuth],
  exports: [QueueDashboardAuth],
})
class QueueDashboardAuthModule {}

/** Embedded mode runs jobs in process, with no BullMQ queue to show: the path says so. */
@Module({})
class NoQueueDashboardModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(() => {
        throw RoomcastError.notFound(
          'the queue dashboard needs Redis (BullMQ); this server runs in embedded mode: see GET /api/queues',
        );
      })
      .forRoutes(QUEUE_DASHBOARD_ROUTE);
  }
}

/**
 * Bull Board at /admin/queues: every BullMQ queue of the app (job-registry.ts), behind the
 * admin API's rate limit and token.
 */
@Module({})
export class QueueDashboardModule {
  static forRoot(config: AppConfig): DynamicModule {
    if (config.embedded) return { module: QueueDashboardModule, imports: [NoQueueDashboardModule] };
    return {
      module: QueueDashboardModule,
      imports: [
        BullBoardModule.forRootAsync({
          imports: [QueueDashboardAuthModule],
          inject: [QueueDashboardAuth],
          useFactory: (auth: QueueDashboardAuth) => ({
            route: QUEUE_DASHBOARD_ROUTE,
            adapter: ExpressAdapter,
            middleware: auth.middleware,
            boardOptions: { uiConfig: { boardTitle: 'Roomcast queues' } },
          }),
        }),
        BullBoardModule.forFeature(
          ...Object.values(QueueName).map((name) => ({ name, adapter: BullMQAdapter })),
        ),
      ],
    };
  }
}

import { DynamicModule, Module, type Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { AdminModule } from './admin/admin.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { ConsoleModule } from './console/console.module.js';
import { DevicesModule } from './devices/devices.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { HealthModule } from './health/health.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MessagingModule } from './messaging/messaging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';
import { OfflineModule } from './offline/offline.module.js';
import { PersistenceModule } from './persistence/persistence.module.js';
import { PresenceModule } from './presence/presence.module.js';
import { QueueDashboardModule } from './queue-dashboard/queue-dashboard.module.js';
import { ReceiptsModule } from './receipts/receipts.module.js';
import { RedisModule } from './redis/redis.module.js';
import { RoomsModule } from './rooms/rooms.module.js';
import { TypingModule } from './typing/typing.module.js';

/**
 * The process is composed from its role: a gateway (sockets, admin API) and/or workers
 * (queue processors). Every swap between embedded and Redis/MySQL implementations happens
 * inside the module that owns the port, from the same AppConfig.
 */
@Module({})
export class AppModule {
  /** `extensions`: a backend team's own modules (frame handlers, event listeners), see docs/extending.md. */
  static forRoot(config: AppConfig, extensions: Array<Type | DynamicModule> = []): DynamicModule {
    const gateway = config.runsGateway
      ? [
          AuthModule,
          PresenceModule,
          RoomsModule,
          DevicesModule,
          MessagingModule,
          OfflineModule,
          NotificationsModule,
          ReceiptsModule,
          TypingModule,
          AuditModule,
          GatewayModule,
          AdminModule,
          QueueDashboardModule.forRoot(config),
          HealthModule,
          ConsoleModule,
        ]
      : [];
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(config),
        EventEmitterModule.forRoot({ wildcard: false }),
        RedisModule.forRoot(config),
        PersistenceModule.forRoot(config),
        MetricsModule,
        ...gateway,
        ...extensions,
      ],
    };
  }
}

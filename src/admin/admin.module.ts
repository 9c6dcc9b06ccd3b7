import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConnectionEntity } from '../audit/connection.entity.js';
import { GatewayModule } from '../gateway/gateway.module.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { MessagesController } from './messages.controller.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { ReceiptsModule } from '../receipts/receipts.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { StatusModule } from '../status/status.module.js';
import { AdminQueuesService } from './admin-queues.service.js';
import { AdminRoomsService } from './admin-rooms.service.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { ClientsController } from './clients.controller.js';
import { DeviceConnectionsService } from './device-connections.service.js';
import { DevicesController } from './devices.controller.js';
import { NotificationsController } from './notifications.controller.js';
import { QueuesController } from './queues.controller.js';
import { RoomsController } from './rooms.controller.js';
import { StatsController } from './stats.controller.js';

/** The admin REST API under /api, behind `Authorization: Bearer <ADMIN_TOKEN>`. */
@Module({
  imports: [
    TypeOrmModule.forFeature([ConnectionEntity]),
    GatewayModule,
    RoomsModule,
    PresenceModule,
    MessagingModule,
    ReceiptsModule,
    StatusModule,
    NotificationsModule,
    RateLimitModule,
  ],
  controllers: [
    StatsController,
    MessagesController,
    RoomsController,
    ClientsController,
    DevicesController,
    QueuesController,
    NotificationsController,
  ],
  providers: [AdminTokenGuard, AdminRoomsService, AdminQueuesService, DeviceConnectionsService],
})
export class AdminModule {}

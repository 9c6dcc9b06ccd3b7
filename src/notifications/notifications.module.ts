import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeviceEntity } from '../devices/device.entity.js';
import { OfflineModule } from '../offline/offline.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { NotificationsService } from './notifications.service.js';

/**
 * `system` notifications to devices, rooms or everyone, live or kept offline. Gateway
 * processes only: it delivers through LiveDelivery and SessionsService (exported by the
 * global GatewayModule).
 */
@Module({
  imports: [TypeOrmModule.forFeature([DeviceEntity]), OfflineModule, RoomsModule],
  providers: [NotificationsService],
  exports: [NotificationsService],
})
export class NotificationsModule {}

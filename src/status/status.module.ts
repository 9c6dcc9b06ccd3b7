import { Module } from '@nestjs/common';
import { GatewayModule } from '../gateway/gateway.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { MessageRate } from './message-rate.js';
import { RoomsMetrics } from './rooms.metrics.js';
import { StatusLogger } from './status-logger.js';
import { StatusService } from './status.service.js';

/**
 * The node at a glance: messages per minute, the snapshot behind /api/stats, the periodic
 * status line and the `roomcast_rooms` gauge. Gateway role only (it reads live sessions).
 */
@Module({
  imports: [GatewayModule, PresenceModule],
  providers: [MessageRate, StatusService, StatusLogger, RoomsMetrics],
  exports: [StatusService],
})
export class StatusModule {}

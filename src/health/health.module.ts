import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { GatewayModule } from '../gateway/gateway.module.js';
import { HealthController } from './health.controller.js';
import { QueuesHealthIndicator } from './queues.indicator.js';
import { RedisHealthIndicator } from './redis.indicator.js';
import { ShutdownState } from './shutdown-state.js';
import { WebSocketHealthIndicator } from './websocket.indicator.js';

/** /health, /health/ready and /health/live: one indicator per dependency (terminus). */
@Module({
  imports: [TerminusModule.forRoot(), GatewayModule],
  controllers: [HealthController],
  providers: [ShutdownState, RedisHealthIndicator, QueuesHealthIndicator, WebSocketHealthIndicator],
})
export class HealthModule {}

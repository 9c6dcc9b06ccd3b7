import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { QueuesHealthIndicator } from './queues.indicator.js';
import { RedisHealthIndicator } from './redis.indicator.js';
import { ShutdownState } from './shutdown-state.js';
import { WebSocketHealthIndicator } from './websocket.indicator.js';
import { LivenessDto } from './liveness.dto.js';

export const DATABASE_TIMEOUT_MS = 1500;

/**
 * Probes, outside the admin token. Every check is bounded (≤ 1.5 s) and they run in
 * parallel, so a dead dependency makes /health answer 503 quickly instead of hanging.
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly queues: QueuesHealthIndicator,
    private readonly websocket: WebSocketHealthIndicator,
    private readonly shutdown: ShutdownState,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary:
      'Readiness with per-dependency detail: database, Redis (when configured), each queue, the WebSocket server',
  })
  check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database').withTimeout(DATABASE_TIMEOUT_MS),
      ...(this.redis.configured ? [() => this.redis.check('redis')] : []),
      () => this.queues.check(),
      () => this.websocket.check('websocket'),
    ]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness (same as /health): 503 when a configured dependency is down' })
  ready(): Promise<HealthCheckResult> {
    return this.check();
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process is up (503 only while shutting down)' })
  @ApiOkResponse({ type: LivenessDto })
  @ApiServiceUnavailableResponse({ description: 'The server is shutting down', type: LivenessDto })
  live(): LivenessDto {
    if (this.shutdown.shuttingDown)
      throw new ServiceUnavailableException({
        status: 'shutting_down',
        uptime_s: Math.floor(process.uptime()),
      });
    return { status: 'ok', uptime_s: Math.floor(process.uptime()) };
  }
}

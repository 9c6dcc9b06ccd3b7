import { ServiceUnavailableException } from '@nestjs/common';
import {
  HealthIndicatorService,
  type HealthCheckService,
  type TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { describe, expect, it, vi } from 'vitest';
import { AppConfig } from '../config/app-config.js';
import type { JobQueue } from '../persistence/job-queue.js';
import { HealthController } from './health.controller.js';
import { QueuesHealthIndicator, QUEUES_TIMEOUT_MS } from './queues.indicator.js';
import type { RedisHealthIndicator } from './redis.indicator.js';
import { ShutdownState } from './shutdown-state.js';
import type { WebSocketHealthIndicator } from './websocket.indicator.js';

const counts = { waiting: 1, active: 0, delayed: 0, completed: 2, failed: 3 };

describe('QueuesHealthIndicator', () => {
  const config = (redis?: string) => Object.assign(new AppConfig(), { REDIS_URL: redis });

  it('reports each queue up with its counts and driver', async () => {
    const jobs = { counts: async () => ({ messages: counts, audit: counts }) } as unknown as JobQueue;
    const result = await new QueuesHealthIndicator(new HealthIndicatorService(), jobs, config()).check();
    expect(result['queue:messages']).toMatchObject({ status: 'up', driver: 'in-process', ...counts });
    expect(result['queue:audit']).toMatchObject({ status: 'up', driver: 'in-process' });
  });

  it('reports every queue down when the counts fail', async () => {
    const jobs = { counts: async () => Promise.reject(new Error('ECONNREFUSED')) } as unknown as JobQueue;
    const result = await new QueuesHealthIndicator(
      new HealthIndicatorService(),
      jobs,
      config('redis://x:1'),
    ).check();
    expect(result['queue:messages']).toMatchObject({
      status: 'down',
      driver: 'bullmq',
      message: 'ECONNREFUSED',
    });
    expect(result['queue:audit']).toMatchObject({ status: 'down' });
  });

  it('reports them down after the timeout when the counts hang', async () => {
    vi.useFakeTimers();
    try {
      const jobs = { counts: () => new Promise(() => undefined) } as unknown as JobQueue;
      const pending = new QueuesHealthIndicator(
        new HealthIndicatorService(),
        jobs,
        config('redis://x:1'),
      ).check();
      await vi.advanceTimersByTimeAsync(QUEUES_TIMEOUT_MS);
      expect((await pending)['queue:messages']).toMatchObject({
        status: 'down',
        message: expect.stringMatching(/did not answer/),
      });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('HealthController /health/live', () => {
  const controller = (shutdown: ShutdownState) =>
    new HealthController(
      {} as HealthCheckService,
      {} as TypeOrmHealthIndicator,
      {} as RedisHealthIndicator,
      {} as QueuesHealthIndicator,
      {} as WebSocketHealthIndicator,
      shutdown,
    );

  it('is ok while running and 503 once shutdown has begun', () => {
    const shutdown = new ShutdownState();
    const live = controller(shutdown);
    expect(live.live()).toMatchObject({ status: 'ok' });
    shutdown.onModuleDestroy();
    expect(() => live.live()).toThrow(ServiceUnavailableException);
  });
});

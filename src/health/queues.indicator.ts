import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config.js';
import { JobQueue } from '../persistence/job-queue.js';
import { QueueName } from '../persistence/job-registry.js';
import { singleFlight, withTimeout } from '../status/with-timeout.js';

export const QUEUES_TIMEOUT_MS = 1500;

/**
 * One entry per queue (`queue:<name>`), from a single bounded JobQueue.counts(). In embedded
 * mode the queues run in this process (driver `in-process`); with Redis they are BullMQ's,
 * and reading their counts proves the queues' Redis connection works.
 */
@Injectable()
export class QueuesHealthIndicator {
  private readonly counts = singleFlight(() => this.jobs.counts());

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly jobs: JobQueue,
    private readonly config: AppConfig,
  ) {}

  async check(): Promise<HealthIndicatorResult> {
    const driver = this.config.embedded ? 'in-process' : 'bullmq';
    const started = performance.now();
    const result: HealthIndicatorResult = {};
    try {
      const counts = await withTimeout(this.counts(), QUEUES_TIMEOUT_MS, 'the job queues');
      const responseTime = Math.round(performance.now() - started);
      for (const queue of Object.values(QueueName)) {
        const key = `queue:${queue}`;
        const c = counts[queue];
        Object.assign(
          result,
          c
            ? this.indicators.check(key).up({ driver, responseTime, ...c })
            : this.indicators.check(key).down({ driver, message: 'no counts for this queue' }),
        );
      }
    } catch (err) {
      const responseTime = Math.round(performance.now() - started);
      for (const queue of Object.values(QueueName)) {
        Object.assign(
          result,
          this.indicators
            .check(`queue:${queue}`)
            .down({ driver, responseTime, message: (err as Error).message }),
        );
      }
    }
    return result;
  }
}

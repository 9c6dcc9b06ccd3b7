import { Injectable, Logger, Optional } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { JobQueue, type QueueCounts } from '../persistence/job-queue.js';
import { QueueName } from '../persistence/job-registry.js';
import { singleFlight, withTimeout } from '../status/with-timeout.js';

/** A scrape waits this long for the counts; past it the job series are left out. */
export const QUEUE_SCRAPE_TIMEOUT_MS = 1000;

const STATES: Array<keyof QueueCounts> = ['waiting', 'active', 'delayed', 'completed', 'failed'];

/**
 * `roomcast_queue_jobs{queue,state}`: jobs per queue and state, read from JobQueue.counts()
 * on each scrape (`failed` is the dead-letter set). `roomcast_queue_up{queue}` says whether
 * the counts could be read, so an alert can tell "empty" from "unknown". Absent when the
 * process has no JobQueue.
 */
@Injectable()
export class QueueMetrics {
  private readonly logger = new Logger('Metrics');

  constructor(registry: Registry, @Optional() jobs?: JobQueue) {
    if (!jobs) return;
    const logger = this.logger;
    // Both gauges are collected concurrently on a scrape: they share one read.
    const counts = singleFlight(() => jobs.counts());
    const read = () =>
      withTimeout(counts(), QUEUE_SCRAPE_TIMEOUT_MS, 'the job queues').catch((err: Error) => {
        logger.debug(`queue counts not collected: ${err.message}`);
        return null;
      });
    new Gauge({
      name: 'roomcast_queue_up',
      help: '1 when the queue counts could be read on this scrape, else 0',
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        const c = await read();
        for (const queue of Object.values(QueueName)) this.set({ queue }, c ? 1 : 0);
      },
    });
    new Gauge({
      name: 'roomcast_queue_jobs',
      help: 'Jobs per queue and state (failed: dead-lettered)',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        const c = await read();
        this.reset();
        if (!c) return;
        for (const [queue, byState] of Object.entries(c)) {
          for (const state of STATES) this.set({ queue, state }, byState[state]);
        }
      },
    });
  }
}

import { Injectable, Logger } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';
import { QueueName } from './job-registry.js';

/**
 * What became of each job attempt, recorded the same way by both drivers: Prometheus
 * counters per queue, and an error log for every job that exhausts its attempts (the
 * final-failure hook: a dead-lettered job is never lost silently).
 */
@Injectable()
export class JobOutcomes {
  private readonly logger = new Logger('Jobs');
  private readonly completedTotal: Counter<'queue'>;
  private readonly failedAttemptsTotal: Counter<'queue'>;
  private readonly deadLetteredTotal: Counter<'queue'>;
  private readonly rejectedTotal: Counter<'queue'>;
  private readonly waitSeconds: Histogram<'queue'>;

  constructor(registry: Registry) {
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['queue'] as const, registers: [registry] });
    this.completedTotal = counter('roomcast_jobs_completed_total', 'Jobs that succeeded.');
    this.failedAttemptsTotal = counter(
      'roomcast_jobs_failed_attempts_total',
      'Job attempts that threw (retried or not).',
    );
    this.deadLetteredTotal = counter(
      'roomcast_jobs_dead_lettered_total',
      'Jobs that exhausted their attempts.',
    );
    this.rejectedTotal = counter(
      'roomcast_jobs_rejected_total',
      'In-process jobs that exhausted their attempts while their caller waited: reported to it, not kept.',
    );
    this.waitSeconds = new Histogram({
      name: 'roomcast_job_wait_seconds',
      help: 'From a job being enqueued to the start of its attempt (retries include their backoff).',
      labelNames: ['queue'] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    // Zero series from the start, so a rate() or an alert sees the queue before its first event.
    for (const queue of Object.values(QueueName)) {
      for (const c of [
        this.completedTotal,
        this.failedAttemptsTotal,
        this.deadLetteredTotal,
        this.rejectedTotal,
      ])
        c.inc({ queue }, 0);
    }
  }

  /** An attempt starts, `waitedMs` after the job was enqueued. */
  started(queue: QueueName, waitedMs: number): void {
    this.waitSeconds.observe({ queue }, Math.max(0, waitedMs) / 1000);
  }

  /** `jobs` > 1 for a pack of BullMQ (PACKED_JOBS): counted as the jobs it carries. */
  completed(queue: QueueName, jobs = 1): void {
    this.completedTotal.inc({ queue }, jobs);
  }

  attemptFailed(queue: QueueName): void {
    this.failedAttemptsTotal.inc({ queue });
  }

  deadLettered(
    queue: QueueName,
    job: { id: string; name: string; attemptsMade: number },
    reason: string,
  ): void {
    this.deadLetteredTotal.inc({ queue });
    this.logger.error(
      `job ${job.id} (${job.name}, queue ${queue}) dead-lettered after ${job.attemptsMade} attempts: ${reason}`,
    );
  }

  rejected(queue: QueueName, job: { id: string; name: string; attemptsMade: number }, reason: string): void {
    this.rejectedTotal.inc({ queue });
    this.logger.error(
      `job ${job.id} (${job.name}, queue ${queue}) failed ${job.attemptsMade} attempts; its caller was told: ${reason}`,
    );
  }
}

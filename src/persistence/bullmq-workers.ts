import { setTimeout as sleep } from 'node:timers/promises';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { AppConfig } from '../config/app-config.js';
import { workerConnection } from './bullmq-connections.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobOutcomes } from './job-outcomes.js';
import { type JobName, type JobPayloads, PACKED_JOBS, QueueName, queueConcurrency } from './job-registry.js';

/**
 * One BullMQ Worker per queue (ROLE all|worker), dispatching each job by name to its
 * @JobHandler. Workers are built here with BullMQ's Worker rather than @nestjs/bullmq's
 * @Processor/WorkerHost: that decorator fixes the concurrency when the class is declared,
 * while ours comes from the configuration (queueConcurrency), and this keeps the dispatch
 * by job name, the registry check and the ROLE switch in one place.
 */
@Injectable()
export class BullMqWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Workers');
  private readonly workers: Worker[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly registry: JobHandlerRegistry,
    private readonly outcomes: JobOutcomes,
  ) {}

  onApplicationBootstrap(): void {
    const concurrency = queueConcurrency(this.config);
    for (const queue of Object.values(QueueName)) {
      const worker = new Worker(queue, (job: Job) => this.process(job), {
        connection: workerConnection(this.config),
        prefix: this.config.REDIS_PREFIX,
        concurrency: concurrency[queue],
        name: this.config.NODE_ID,
        lockDuration: this.config.JOB_LOCK_MS,
        stalledInterval: this.config.JOB_LOCK_MS,
      });
      worker.on('completed', (job: Job) => this.outcomes.completed(queue, itemsOf(job).length));
      worker.on('failed', (job: Job | undefined, err: Error) => this.onFailed(queue, job, err));
      let lastError = '';
      worker.on('error', (err: Error) => {
        if (err.message !== lastError) this.logger.warn(`worker ${queue}: ${err.message}`);
        lastError = err.message;
      });
      this.workers.push(worker);
    }
  }

  /**
   * Runs before the database and the queue connections close: each worker stops taking
   * jobs and waits for the ones it holds, within SHUTDOWN_TIMEOUT_MS. Past that (jobs still
   * running, or Redis unreachable: BullMQ's close then never settles) the workers are left
   * behind; their jobs stay active until their lock expires and another worker takes them
   * over (stalled-job recovery), and handlers are idempotent, so nothing is lost.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const timeout = new AbortController();
    const closed = await Promise.race([
      Promise.allSettled(this.workers.map((w) => w.close())).then(() => true),
      sleep(this.config.SHUTDOWN_TIMEOUT_MS, false, { signal: timeout.signal }),
    ]);
    timeout.abort();
    if (!closed) {
      this.logger.warn(
        `shutdown: workers not closed after ${this.config.SHUTDOWN_TIMEOUT_MS} ms; their jobs are left to stalled-job recovery`,
      );
    }
  }

  /**
   * Rethrows every failure: a processor that swallowed one would make BullMQ record success.
   * The items of a pack run together (the message writer then puts them in one INSERT);
   * one failed item fails the pack, which is retried whole (its handlers are idempotent).
   */
  private async process(job: Job): Promise<void> {
    const name = job.name;
    if (!this.registry.isJobName(name)) throw new UnrecoverableError(`unknown job name ${name}`);
    this.outcomes.started(job.queueName as QueueName, (job.processedOn ?? Date.now()) - job.timestamp);
    const items = itemsOf(job);
    const results = await Promise.allSettled(
      items.map((item) => this.registry.run(name, item as JobPayloads[typeof name])),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length === 0) return;
    const reason = failed[0].reason as unknown;
    if (items.length === 1) throw reason;
    throw new Error(
      `${failed.length} of ${items.length} items failed; first: ${reason instanceof Error ? reason.message : String(reason)}`,
    );
  }

  private onFailed(queue: QueueName, job: Job | undefined, err: Error): void {
    this.outcomes.attemptFailed(queue);
    if (!job) return;
    const exhausted = job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError;
    if (exhausted) {
      this.outcomes.deadLettered(
        queue,
        { id: job.id ?? '?', name: job.name, attemptsMade: job.attemptsMade },
        err.message,
      );
    }
  }
}

/** The payloads a job carries: a pack's array, or the one payload (also a pack enqueued by a version before packing). */
function itemsOf(job: Job): unknown[] {
  return PACKED_JOBS.has(job.name as JobName) && Array.isArray(job.data)
    ? (job.data as unknown[])
    : [job.data];
}

import { setTimeout as sleep } from 'node:timers/promises';
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { RoomcastError } from '../common/roomcast-error.js';
import { AppConfig } from '../config/app-config.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobOutcomes } from './job-outcomes.js';
import { assertValidJobId, type FailedJob, JobQueue, type QueueCounts } from './job-queue.js';
import {
  backoffDelay,
  JOB_QUEUE,
  type JobName,
  type JobPayloads,
  QueueName,
  queueConcurrency,
} from './job-registry.js';
import { Semaphore } from './semaphore.js';

/** Dead-lettered jobs kept in memory; past this the oldest are dropped (and logged). */
export const DEAD_LETTER_LIMIT = 10_000;

interface Job {
  id: string;
  name: JobName;
  queue: QueueName;
  data: unknown;
  /** Whether an exhausted job is kept for retryFailed (record) or only reported to its caller (enqueue). */
  keep: boolean;
}

interface QueueState {
  slots: Semaphore;
  active: number;
  delayed: number;
  completed: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The embedded-mode driver: jobs run in this process, with BullMQ's retry policy (same
 * attempts, same exponential backoff, same per-queue concurrency). Memory is not durable,
 * so `enqueue` settles only when the handler has succeeded (the write is the durability)
 * or when every attempt failed: it then rejects with UNAVAILABLE and the job is dropped,
 * since its caller has reported the failure (a client may have sent again). Jobs handed
 * over with `record` are dead-lettered instead, for `retryFailed`.
 */
@Injectable()
export class InProcessJobQueue extends JobQueue implements BeforeApplicationShutdown {
  private readonly logger = new Logger('JobQueue');
  private readonly queues: Record<QueueName, QueueState>;
  /** Oldest first. */
  private readonly dead: FailedJob[] = [];
  /** Running jobs by id: an id enqueued again while running joins the run, as in BullMQ. */
  private readonly running = new Map<string, Promise<void>>();
  /** Timers of schedule(), by job name. */
  private readonly schedules = new Map<JobName, NodeJS.Timeout>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    private readonly registry: JobHandlerRegistry,
    private readonly outcomes: JobOutcomes,
  ) {
    super();
    const concurrency = queueConcurrency(config);
    this.queues = Object.fromEntries(
      Object.values(QueueName).map((q) => [
        q,
        { slots: new Semaphore(concurrency[q]), active: 0, delayed: 0, completed: 0 },
      ]),
    ) as Record<QueueName, QueueState>;
  }

  enqueue<N extends JobName>(name: N, data: JobPayloads[N], jobId?: string): Promise<void> {
    if (this.closed) return Promise.reject(RoomcastError.unavailable('the job queue is shut down'));
    if (jobId !== undefined) {
      try {
        assertValidJobId(jobId);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.start({
      id: jobId ?? `local-${this.nextId++}`,
      name,
      queue: JOB_QUEUE[name],
      data,
      keep: false,
    });
  }

  record<N extends JobName>(name: N, data: JobPayloads[N]): void {
    if (this.closed) {
      this.logger.warn(`${name} not recorded: the job queue is shut down`);
      return;
    }
    this.start({ id: `local-${this.nextId++}`, name, queue: JOB_QUEUE[name], data, keep: true }).catch(
      () => undefined,
    );
  }

  /**
   * A timer runs the job through the same path as `record` (retries, then the dead letter).
   * Every run of a schedule has the same id, so a tick while the previous run is still going
   * (or retrying) joins it instead of stacking up.
   */
  schedule<N extends JobName>(name: N, everyMs: number, data: JobPayloads[N]): void {
    if (this.closed) {
      this.logger.warn(`${name} not scheduled: the job queue is shut down`);
      return;
    }
    clearInterval(this.schedules.get(name));
    const timer = setInterval(() => {
      if (this.closed) return;
      this.start({ id: `scheduled-${name}`, name, queue: JOB_QUEUE[name], data, keep: true }).catch(
        () => undefined,
      );
    }, everyMs);
    timer.unref();
    this.schedules.set(name, timer);
  }

  async counts(): Promise<Record<QueueName, QueueCounts>> {
    const counts = {} as Record<QueueName, QueueCounts>;
    for (const queue of Object.values(QueueName)) {
      const state = this.queues[queue];
      counts[queue] = {
        waiting: state.slots.waiting,
        active: state.active,
        delayed: state.delayed,
        completed: state.completed,
        failed: this.dead.filter((job) => job.queue === queue).length,
      };
    }
    return counts;
  }

  async failed(queue: QueueName, limit: number): Promise<FailedJob[]> {
    const jobs: FailedJob[] = [];
    for (let i = this.dead.length - 1; i >= 0 && jobs.length < limit; i--) {
      if (this.dead[i].queue === queue) jobs.push({ ...this.dead[i] });
    }
    return jobs;
  }

  async retryFailed(queue: QueueName): Promise<number> {
    const retried = this.dead.filter((job) => job.queue === queue);
    this.dead.splice(0, this.dead.length, ...this.dead.filter((job) => job.queue !== queue));
    for (const job of retried) {
      // Nobody awaits a retry; a second failure dead-letters the job again.
      this.start({ id: job.id, name: job.name, queue: job.queue, data: job.data, keep: true }).catch(
        () => undefined,
      );
    }
    return retried.length;
  }

  /**
   * Stops the schedules, then waits for running jobs (new ones started by other modules'
   * shutdown, such as the connection.closed jobs of closing sockets, included) while the
   * database is still open, bounded by SHUTDOWN_TIMEOUT_MS; then refuses new jobs.
   */
  async beforeApplicationShutdown(): Promise<void> {
    for (const timer of this.schedules.values()) clearInterval(timer);
    this.schedules.clear();
    const deadline = Date.now() + this.config.SHUTDOWN_TIMEOUT_MS;
    while (this.running.size > 0 && Date.now() < deadline) {
      const timeout = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.running.values()]),
        sleep(deadline - Date.now(), undefined, { signal: timeout.signal }).catch(() => undefined),
      ]);
      timeout.abort();
    }
    this.closed = true;
    if (this.running.size > 0) {
      this.logger.warn(
        `shutdown: ${this.running.size} job(s) still running after ${this.config.SHUTDOWN_TIMEOUT_MS} ms are abandoned`,
      );
    }
  }

  private start(job: Job): Promise<void> {
    const existing = this.running.get(job.id);
    if (existing) return existing;
    const run = this.runWithRetries(job).finally(() => this.running.delete(job.id));
    this.running.set(job.id, run);
    return run;
  }

  private async runWithRetries(job: Job): Promise<void> {
    const state = this.queues[job.queue];
    const enqueuedAt = Date.now();
    for (let attemptsMade = 1; ; attemptsMade++) {
      try {
        await this.attempt(job, state, enqueuedAt);
        state.completed++;
        this.outcomes.completed(job.queue);
        return;
      } catch (err) {
        this.outcomes.attemptFailed(job.queue);
        if (attemptsMade >= this.config.JOB_ATTEMPTS) {
          if (job.keep) this.deadLetter(job, attemptsMade, message(err));
          else this.outcomes.rejected(job.queue, { id: job.id, name: job.name, attemptsMade }, message(err));
          throw RoomcastError.unavailable(
            `${job.name} job ${job.id} failed ${attemptsMade} times: ${message(err)}`,
          );
        }
        state.delayed++;
        await sleep(backoffDelay(this.config, attemptsMade));
        state.delayed--;
      }
    }
  }

  private async attempt(job: Job, state: QueueState, enqueuedAt: number): Promise<void> {
    await state.slots.acquire();
    this.outcomes.started(job.queue, Date.now() - enqueuedAt);
    state.active++;
    try {
      await this.registry.run(job.name, job.data as JobPayloads[JobName]);
    } finally {
      state.active--;
      state.slots.release();
    }
  }

  private deadLetter(job: Job, attemptsMade: number, failedReason: string): void {
    this.outcomes.deadLettered(job.queue, { id: job.id, name: job.name, attemptsMade }, failedReason);
    this.dead.push({ ...job, attemptsMade, failedReason, failedAt: Date.now() });
    if (this.dead.length > DEAD_LETTER_LIMIT) {
      const dropped = this.dead.shift()!;
      this.logger.error(
        `dead-letter list full (${DEAD_LETTER_LIMIT}): dropped job ${dropped.id} (${dropped.name})`,
      );
    }
  }
}

import { randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { Job, JobsOptions, Queue } from 'bullmq';
import { Counter, Gauge, Registry } from 'prom-client';
import { RoomcastError } from '../common/roomcast-error.js';
import { AppConfig } from '../config/app-config.js';
import {
  assertValidJobId,
  EnqueueUncertain,
  type FailedJob,
  JobQueue,
  type QueueCounts,
} from './job-queue.js';
import { JOB_QUEUE, type JobName, type JobPayloads, PACKED_JOBS, QueueName } from './job-registry.js';

/** Injection token of the BullMQ Queue of every QueueName (a ReadonlyMap). */
export const BULL_QUEUES = Symbol('roomcast:bull-queues');

/** Longest an enqueue waits for Redis before answering UNAVAILABLE (e.g. Redis down at boot). */
export const ENQUEUE_TIMEOUT_MS = 3000;
/** How long to look for a job whose add went unanswered before reporting it unavailable. */
export const VERIFY_TIMEOUT_MS = 1000;
/** While Redis does not answer, how often to ask it again whether such a job is stored. */
export const VERIFY_RETRY_MS = 250;
/** ioredis refuses a command it never sent with this (the offline queue is off): it cannot have run. */
const NOT_SENT = /Stream isn't writeable/;
/** Jobs per addBulk: bounds the size of one Redis transaction. */
const MAX_BULK = 1000;
/** Payloads per pack (PACKED_JOBS): bounds one job's size (100 messages of 64 KiB: 6.4 MiB). */
export const PACK_MAX_ITEMS = 100;
/**
 * Completed packs kept (the queue default keeps 1,000 jobs): about as many payloads as
 * before packing, so a pack whose add timed out can still be found by settleUncertain.
 */
const PACKS_KEPT = 100;
/**
 * How long Redis keeps the proof that a pack was added: BullMQ's deduplication key of the
 * pack's id, set by the add script and left in place when the job completes and is dropped
 * from the PACKS_KEPT kept ones (which at a few hundred packs a second takes well under a
 * second). A lookup after an unanswered add reads it, so a pack that was added, run and
 * dropped meanwhile is found stored: "absent" would hand its messages' seqs back for reuse
 * and have the clients send them again. About 190 bytes of Redis memory per pack (at 500
 * packs a second, 11 MB).
 */
export const ADD_PROOF_MS = 120_000;
/** Failed jobs fetched per round trip by retryFailed. */
const RETRY_PAGE = 200;
/** First and longest wait before registering a schedule again after Redis refused it. */
export const SCHEDULE_RETRY_MS = { first: 1000, max: 30_000 };
/**
 * Recorded jobs (audit) that Redis refused or answered too slowly are handed over again with
 * these waits: a burst of closes (a node draining 19,000 sockets) or a Redis restart delays
 * the audit trail instead of losing it. Their handlers are idempotent, so a job that Redis
 * did store before the timeout may safely be added twice.
 */
export const RECORD_RETRY = { firstMs: 1000, maxMs: 30_000, attempts: 8, maxWaiting: 200_000 };

interface PendingAdd {
  name: JobName;
  data: unknown;
  jobId?: string;
  resolve(): void;
  reject(err: unknown): void;
}

/** One BullMQ job to add, and the callers it settles: one, or every caller of a pack. */
interface OutgoingJob {
  job: { name: JobName; data: unknown; opts?: JobsOptions };
  callers: PendingAdd[];
}

/**
 * The adds of one tick as BullMQ jobs: a job each, except PACKED_JOBS, which go up to
 * PACK_MAX_ITEMS to a job. Every job has an id, so that settleUncertain can look it up: a
 * pack one of its own, as its items' ids are not needed to keep them once (their handlers
 * are idempotent).
 */
function toBullJobs(adds: PendingAdd[]): OutgoingJob[] {
  const jobs: OutgoingJob[] = [];
  const open = new Map<JobName, { items: unknown[]; callers: PendingAdd[] }>();
  for (const add of adds) {
    if (!PACKED_JOBS.has(add.name)) {
      const opts = { jobId: add.jobId ?? randomUUID() };
      jobs.push({ job: { name: add.name, data: add.data, opts }, callers: [add] });
      continue;
    }
    let pack = open.get(add.name);
    if (!pack || pack.items.length >= PACK_MAX_ITEMS) {
      pack = { items: [], callers: [] };
      open.set(add.name, pack);
      const jobId = randomUUID();
      const opts = {
        jobId,
        removeOnComplete: { count: PACKS_KEPT },
        // Its id is new: no other add is ever deduplicated by it, the key only proves this one.
        deduplication: { id: jobId, ttl: ADD_PROOF_MS },
      };
      jobs.push({ job: { name: add.name, data: pack.items, opts }, callers: pack.callers });
    }
    pack.items.push(add.data);
    pack.callers.push(add);
  }
  return jobs;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The Redis driver of JobQueue. `enqueue` resolves once Redis has stored the job (durable:
 * any worker of the cluster will run it). Calls made in the same turn of the event loop (or
 * within JOB_ADD_LINGER_MS of the first) are sent together with one addBulk per queue,
 * PACKED_JOBS packed into shared jobs; each caller still settles on its own.
 */
@Injectable()
export class BullMqJobQueue extends JobQueue implements BeforeApplicationShutdown {
  private readonly logger = new Logger('JobQueue');
  private pending = new Map<QueueName, PendingAdd[]>();
  private flushScheduled = false;
  /** Schedules waiting to be registered again (Redis refused), by job name. */
  private readonly scheduleRetries = new Map<JobName, NodeJS.Timeout>();
  private closed = false;
  /** Recorded jobs waiting for their next hand-over, and those given up since the last log line. */
  private recordsWaiting = 0;
  private recordsDropped = 0;
  private dropLogTimer?: NodeJS.Timeout;
  /** Adds sent but not confirmed (a timeout, a dropped connection), by what Redis held. */
  private readonly unconfirmed: Counter<'queue' | 'outcome'>;
  /** Of those, the ones Redis has not answered about yet (their callers got EnqueueUncertain). */
  private readonly unsettled: Gauge<'queue'>;

  constructor(
    @Inject(BULL_QUEUES) private readonly queues: ReadonlyMap<QueueName, Queue>,
    registry: Registry,
    private readonly config: AppConfig,
  ) {
    super();
    this.unconfirmed = new Counter({
      name: 'roomcast_job_adds_unconfirmed_total',
      help: 'Adds Redis did not confirm, by what a lookup found once it answered: stored (durable after all) or absent.',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    });
    this.unsettled = new Gauge({
      name: 'roomcast_job_adds_unsettled',
      help: 'Unconfirmed adds Redis has not answered about yet: their sends were answered UNAVAILABLE and wait to be found stored or absent.',
      labelNames: ['queue'] as const,
      registers: [registry],
    });
    for (const [name, queue] of queues) {
      let lastError = '';
      // Without a listener BullMQ prints every connection error; log each distinct one once.
      queue.on('error', (err: Error) => {
        if (err.message !== lastError) this.logger.warn(`queue ${name}: ${err.message}`);
        lastError = err.message;
      });
    }
  }

  enqueue<N extends JobName>(name: N, data: JobPayloads[N], jobId?: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (jobId !== undefined) assertValidJobId(jobId);
      const queue = JOB_QUEUE[name];
      const adds = this.pending.get(queue) ?? [];
      adds.push({ name, data, jobId, resolve, reject });
      this.pending.set(queue, adds);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        const linger = this.config.JOB_ADD_LINGER_MS;
        if (linger > 0) setTimeout(() => this.flush(), linger);
        else setImmediate(() => this.flush());
      }
    });
  }

  record<N extends JobName>(name: N, data: JobPayloads[N]): void {
    this.handOver(name, data, 1, RECORD_RETRY.firstMs);
  }

  private handOver<N extends JobName>(name: N, data: JobPayloads[N], attempt: number, waitMs: number): void {
    this.enqueue(name, data).catch((err: Error) => {
      if (this.closed || attempt >= RECORD_RETRY.attempts || this.recordsWaiting >= RECORD_RETRY.maxWaiting)
        return this.dropRecord(name, err);
      this.recordsWaiting++;
      setTimeout(() => {
        this.recordsWaiting--;
        this.handOver(name, data, attempt + 1, Math.min(waitMs * 2, RECORD_RETRY.maxMs));
      }, waitMs).unref();
    });
  }

  /** One warning per second at most: a Redis outage must not become a log line per socket. */
  private dropRecord(name: JobName, err: Error): void {
    this.recordsDropped++;
    if (this.dropLogTimer) return;
    this.logger.warn(`${name} not recorded: ${err.message}`);
    this.dropLogTimer = setTimeout(() => {
      this.dropLogTimer = undefined;
      const more = this.recordsDropped - 1;
      this.recordsDropped = 0;
      if (more > 0) this.logger.warn(`${more} more recorded job(s) given up in the last second`);
    }, 1000);
    this.dropLogTimer.unref();
  }

  /** Recorded jobs that failed a hand-over and wait to be handed over again. */
  get recordsRetrying(): number {
    return this.recordsWaiting;
  }

  /**
   * A BullMQ job scheduler (`upsertJobScheduler`) with the job name as its id: registering
   * it again, from this or another worker process, updates the one schedule instead of
   * adding one. Its jobs get the queue's default options (attempts, backoff, dead letter).
   */
  schedule<N extends JobName>(name: N, everyMs: number, data: JobPayloads[N]): void {
    clearTimeout(this.scheduleRetries.get(name));
    this.scheduleRetries.delete(name);
    const register = async (retryMs: number): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.queue(JOB_QUEUE[name]).upsertJobScheduler(name, { every: everyMs }, { name, data }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`Redis did not answer within ${ENQUEUE_TIMEOUT_MS} ms`)),
              ENQUEUE_TIMEOUT_MS,
            );
          }),
        ]);
        this.scheduleRetries.delete(name);
      } catch (err) {
        if (this.closed) return;
        this.logger.warn(`schedule of ${name} not registered (${message(err)}); retrying in ${retryMs} ms`);
        const retry = setTimeout(() => void register(Math.min(retryMs * 2, SCHEDULE_RETRY_MS.max)), retryMs);
        retry.unref();
        this.scheduleRetries.set(name, retry);
      } finally {
        clearTimeout(timer);
      }
    };
    void register(SCHEDULE_RETRY_MS.first);
  }

  /** Stops retrying schedules that were not registered; the ones in Redis stay for the other workers. */
  beforeApplicationShutdown(): void {
    this.closed = true;
    for (const timer of this.scheduleRetries.values()) clearTimeout(timer);
    this.scheduleRetries.clear();
  }

  async counts(): Promise<Record<QueueName, QueueCounts>> {
    const entries = await Promise.all(
      [...this.queues].map(async ([name, queue]) => {
        const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
        const counts: QueueCounts = {
          waiting: c.waiting,
          active: c.active,
          delayed: c.delayed,
          completed: c.completed,
          failed: c.failed,
        };
        return [name, counts] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<QueueName, QueueCounts>;
  }

  async failed(queue: QueueName, limit: number): Promise<FailedJob[]> {
    if (limit <= 0) return [];
    const jobs = await this.queue(queue).getFailed(0, limit - 1);
    return jobs.map((job) => ({
      id: job.id ?? '',
      name: job.name as JobName,
      queue,
      attemptsMade: job.attemptsMade,
      failedReason: job.failedReason,
      data: job.data,
      failedAt: job.finishedOn ?? null,
    }));
  }

  /**
   * Retries job by job (oldest first) rather than with queue.retryJobs: that keeps each
   * job's attemptsMade, so a retried job would get a single attempt, whereas here it gets
   * the full policy again, as in the in-process driver. Jobs that fail anew while this runs
   * are not picked up twice: only as many jobs as were failed at the start are visited.
   */
  async retryFailed(queue: QueueName): Promise<number> {
    const q = this.queue(queue);
    let remaining = await q.getFailedCount();
    let retried = 0;
    let skip = 0;
    while (remaining > 0) {
      const page: Job[] = await q.getJobs(['failed'], skip, skip + Math.min(RETRY_PAGE, remaining) - 1, true);
      if (page.length === 0) break;
      const results = await Promise.allSettled(
        page.map((job) => job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      retried += ok;
      // Retried jobs leave the failed set; the ones that could not move stay in front.
      skip += page.length - ok;
      remaining -= page.length;
    }
    return retried;
  }

  private queue(name: QueueName): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`queue ${name} is not registered`);
    return queue;
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [name, adds] of pending) {
      const jobs = toBullJobs(adds);
      for (let i = 0; i < jobs.length; i += MAX_BULK) void this.send(name, jobs.slice(i, i + MAX_BULK));
    }
  }

  private async send(name: QueueName, jobs: OutgoingJob[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${ENQUEUE_TIMEOUT_MS} ms`)),
        ENQUEUE_TIMEOUT_MS,
      );
    });
    const sentAt = Date.now();
    try {
      await Promise.race([this.add(this.queue(name), jobs), timeout]);
      for (const { callers } of jobs) for (const add of callers) add.resolve();
    } catch (err) {
      clearTimeout(timer);
      const error = `job queue ${name} unavailable: ${message(err)}`;
      if (NOT_SENT.test(message(err))) {
        for (const { callers } of jobs)
          for (const add of callers) add.reject(RoomcastError.unavailable(error));
      } else {
        await this.settleUncertain(name, jobs, error, sentAt);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A flush usually comes down to one job per queue (its pack). BullMQ's addBulk sends even
   * one job through an ioredis pipeline, whose constructor copies each of BullMQ's Lua
   * scripts onto it: about twice the CPU of `add`, which runs the same add script directly.
   */
  private add(queue: Queue, jobs: OutgoingJob[]): Promise<unknown> {
    if (jobs.length > 1) return queue.addBulk(jobs.map((j) => j.job));
    const { name, data, opts } = jobs[0].job;
    return queue.add(name, data, opts);
  }

  /**
   * After an add that failed or timed out once sent, Redis may still have stored some jobs
   * (the command can run after we stopped waiting, or Redis ran it and went away before
   * answering). A caller told "unavailable" will hand its message number back and the client
   * will send again, so each job is looked up first: one that is there (or, for a pack, its
   * proof: see ADD_PROOF_MS) is durable and resolves; one Redis says is absent rejects. When
   * Redis does not answer, the caller gets an EnqueueUncertain, settled once it does: the
   * lookup goes on the connection of the add, after it, so an add still on its way is seen.
   */
  private async settleUncertain(
    name: QueueName,
    jobs: OutgoingJob[],
    error: string,
    sentAt: number,
  ): Promise<void> {
    const queue = this.queue(name);
    await Promise.all(
      jobs.map(async ({ job, callers }) => {
        const found = await this.lookUp(queue, job);
        let stored: Promise<boolean> | undefined;
        if (found === undefined) {
          this.unsettled.inc({ queue: name }, callers.length);
          stored = this.whenAnswered(queue, job, sentAt);
          void stored.then((isStored) => {
            this.unsettled.dec({ queue: name }, callers.length);
            this.countUnconfirmed(name, isStored, callers.length);
          });
        } else {
          this.countUnconfirmed(name, found, callers.length);
        }
        for (const add of callers) {
          if (found) add.resolve();
          else if (stored) add.reject(new EnqueueUncertain(error, stored));
          else add.reject(RoomcastError.unavailable(error));
        }
      }),
    );
  }

  private countUnconfirmed(queue: QueueName, stored: boolean, adds: number): void {
    this.unconfirmed.inc({ queue, outcome: stored ? 'stored' : 'absent' }, adds);
  }

  /**
   * Whether Redis holds the job, or the proof that it was added; undefined when it does not
   * answer within VERIFY_TIMEOUT_MS.
   */
  private lookUp(queue: Queue, job: OutgoingJob['job']): Promise<boolean | undefined> {
    const id = job.opts!.jobId!;
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      Promise.all([queue.getJob(id), job.opts?.deduplication && queue.getDeduplicationJobId(id)]).then(
        ([found, proof]) => Boolean(found ?? proof),
        () => undefined,
      ),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), VERIFY_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * Asks Redis about the job every VERIFY_RETRY_MS until it answers; never settles after
   * shutdown. A pack not found when Redis answers only after its proof may have expired may
   * have run and been dropped: it is added again (its handlers are idempotent, so a pack that
   * did run stores nothing twice) rather than called absent.
   */
  private async whenAnswered(queue: Queue, job: OutgoingJob['job'], sentAt: number): Promise<boolean> {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, VERIFY_RETRY_MS).unref());
      if (this.closed) return new Promise<never>(() => undefined);
      const found = await this.lookUp(queue, job);
      if (found === undefined) continue;
      if (found || !job.opts?.deduplication || Date.now() < sentAt + ADD_PROOF_MS) return found;
      const addedAgain = await queue.add(job.name, job.data, job.opts).then(
        () => true,
        () => false,
      );
      if (addedAgain) return true;
    }
  }
}

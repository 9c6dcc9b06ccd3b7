import { ErrorCode } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';
import type { JobName, JobPayloads, QueueName } from './job-registry.js';

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

export interface FailedJob {
  id: string;
  name: JobName;
  queue: QueueName;
  attemptsMade: number;
  failedReason: string;
  data: unknown;
  failedAt: number | null;
}

/**
 * The port every producer uses. Bound in PersistenceModule to BullMQ (REDIS_URL set) or to
 * the in-process driver (embedded mode); callers never know which.
 */
export abstract class JobQueue {
  /**
   * Hands over a job whose outcome the caller waits for. Resolves once the job is durable:
   * stored in Redis by BullMQ, or, in process (where memory is not durable), once its
   * handler has succeeded. Rejects with UNAVAILABLE when that cannot be achieved, and then
   * the job is never run later: the caller owns the failure, and a client told so may
   * safely send again. Except when Redis went away with the add unanswered: it may have
   * stored the job all the same (and then runs it). That rejection is an EnqueueUncertain,
   * whose `stored` says which once Redis answers again.
   */
  abstract enqueue<N extends JobName>(name: N, data: JobPayloads[N], jobId?: string): Promise<void>;

  /**
   * Hands over a job whose failure is the queue's business, not the caller's (audit
   * records): it is retried and, when its attempts run out, dead-lettered for an operator
   * to retry. Never throws. A job Redis refuses or does not take in time is handed over
   * again with growing waits (RECORD_RETRY in the BullMQ driver), and logged only once those
   * run out: the jobs recorded this way must be idempotent.
   */
  abstract record<N extends JobName>(name: N, data: JobPayloads[N]): void;

  /**
   * Runs a job every `everyMs` until shutdown, with the same retry policy as any job (a run
   * that exhausts its attempts is dead-lettered; the next run comes anyway). Called at boot
   * by a process that runs workers. One schedule per job name: BullMQ keeps it in Redis as a
   * job scheduler whose id is the job name, so every worker process registering it at boot
   * leaves one schedule (the last interval registered wins), and a run goes to one worker; in
   * process it is a timer, and a run still going when the next is due absorbs it. Never
   * throws: a schedule that cannot be registered yet (Redis down) is retried until it is.
   */
  abstract schedule<N extends JobName>(name: N, everyMs: number, data: JobPayloads[N]): void;

  abstract counts(): Promise<Record<QueueName, QueueCounts>>;

  /** Dead-lettered jobs of a queue, newest first. */
  abstract failed(queue: QueueName, limit: number): Promise<FailedJob[]>;

  /** Moves every dead-lettered job of the queue back to waiting; returns how many. */
  abstract retryFailed(queue: QueueName): Promise<number>;
}

/**
 * BullMQ refuses custom ids that read as integers or contain ':'. Both drivers apply the
 * rule up front, so a caller learns it in embedded mode too, and one bad id never fails
 * the bulk add it would have shared with other callers' jobs.
 */
export function assertValidJobId(jobId: string): void {
  if (jobId === '' || jobId.includes(':') || String(Number.parseInt(jobId, 10)) === jobId) {
    throw new TypeError(`invalid job id "${jobId}": must be non-empty, not an integer, and without ':'`);
  }
}

/**
 * UNAVAILABLE for an add that Redis neither confirmed nor could be asked about (it went away
 * meanwhile): the job may be stored, and would then run. `stored` settles once Redis answers
 * a lookup; never, if this process stops first.
 */
export class EnqueueUncertain extends RoomcastError {
  constructor(
    message: string,
    readonly stored: Promise<boolean>,
  ) {
    super(ErrorCode.UNAVAILABLE, message);
    this.name = 'EnqueueUncertain';
  }

  /** The same failure, with `next` run on the outcome before `stored` settles. */
  follow(next: (stored: boolean) => Promise<unknown>): EnqueueUncertain {
    return new EnqueueUncertain(
      this.message,
      this.stored.then(async (stored) => {
        await next(stored);
        return stored;
      }),
    );
  }
}

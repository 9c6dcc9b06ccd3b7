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
   * Resolves once the job is durable: stored in Redis by BullMQ, or, in process (where
   * memory is not durable), once its handler has succeeded. Rejects with UNAVAILABLE when
   * that cannot be achieved.
   */
  abstract enqueue<N extends JobName>(name: N, data: JobPayloads[N], jobId?: string): Promise<void>;

  abstract counts(): Promise<Record<QueueName, QueueCounts>>;

  /** Dead-lettered jobs of a queue, newest first. */
  abstract failed(queue: QueueName, limit: number): Promise<FailedJob[]>;

  /** Moves every dead-lettered job of the queue back to waiting; returns how many. */
  abstract retryFailed(queue: QueueName): Promise<number>;
}

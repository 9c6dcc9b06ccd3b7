import { Injectable } from '@nestjs/common';
import { RoomcastError } from '../common/roomcast-error.js';
import { JobQueue } from '../persistence/job-queue.js';
import type { QueueName } from '../persistence/job-registry.js';
import { StatusService } from '../status/status.service.js';
import { TimeoutError, withTimeout } from '../status/with-timeout.js';
import type { FailedJobDto, QueueCountsDto } from './dto/queues.dto.js';

/** Longest a queue operation waits for Redis before answering 503. */
export const QUEUE_ADMIN_TIMEOUT_MS = 2000;
export const QUEUE_RETRY_TIMEOUT_MS = 10_000;

/** Queue counts, dead letters and their retry, answering UNAVAILABLE (503) when the queues can't be reached. */
@Injectable()
export class AdminQueuesService {
  constructor(
    private readonly jobs: JobQueue,
    private readonly status: StatusService,
  ) {}

  counts(): Promise<QueueCountsDto[]> {
    return unavailableOnFailure(this.status.queueDepths());
  }

  async failed(queue: QueueName, limit: number): Promise<FailedJobDto[]> {
    const jobs = await unavailableOnFailure(
      withTimeout(this.jobs.failed(queue, limit), QUEUE_ADMIN_TIMEOUT_MS, `queue ${queue}`),
    );
    return jobs.map((job) => ({
      id: job.id,
      name: job.name,
      queue: job.queue,
      attempts_made: job.attemptsMade,
      failed_reason: job.failedReason,
      data: job.data,
      failed_at: job.failedAt,
    }));
  }

  /**
   * Bounded more loosely than reads (it pages through the dead letters); when the bound is hit
   * the retry may be partly done, which the 503 message says.
   */
  retryFailed(queue: QueueName): Promise<number> {
    const what = `retrying queue ${queue} (some jobs may have been retried: see GET /api/queues)`;
    return unavailableOnFailure(withTimeout(this.jobs.retryFailed(queue), QUEUE_RETRY_TIMEOUT_MS, what));
  }
}

async function unavailableOnFailure<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof RoomcastError) throw err;
    const reason =
      err instanceof TimeoutError ? err.message : `the job queues are unreachable: ${(err as Error).message}`;
    throw RoomcastError.unavailable(reason);
  }
}

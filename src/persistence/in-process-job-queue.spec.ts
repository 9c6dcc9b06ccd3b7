import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '#protocol';
import { loadConfig } from '../config/load-config.js';
import { InProcessJobQueue } from './in-process-job-queue.js';
import type { JobHandlerRegistry } from './job-handler.registry.js';
import { JobOutcomes } from './job-outcomes.js';
import { type DeviceSeenJob, JobName, type PersistMessageJob, QueueName } from './job-registry.js';

type Run = (name: JobName, data: unknown) => Promise<void>;

function queueWith(run: Run, env: Record<string, string> = {}) {
  const config = loadConfig({ JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '10', LOG_LEVEL: 'fatal', ...env });
  const metrics = new Registry();
  const registry = { run } as unknown as JobHandlerRegistry;
  const queue = new InProcessJobQueue(config, registry, new JobOutcomes(metrics));
  const metric = async (name: string) =>
    (await metrics.getSingleMetric(name)!.get()).values.find((v) => v.labels.queue === QueueName.Messages)
      ?.value;
  return { queue, metric };
}

const seen = (deviceId: string): DeviceSeenJob => ({ deviceId, identity: 'i', roomId: null, at: 0 });
const message = { messageId: 'm1' } as PersistMessageJob;

describe('InProcessJobQueue', () => {
  it('retries with exponential backoff and resolves when an attempt succeeds', async () => {
    const startedAt: number[] = [];
    const { queue, metric } = queueWith(async () => {
      startedAt.push(Date.now());
      if (startedAt.length < 3) throw new Error('not yet');
    });
    await queue.enqueue(JobName.PersistMessage, message);
    expect(startedAt).toHaveLength(3);
    // backoffDelay: 10 ms after the first failure, 20 ms after the second.
    expect(startedAt[1] - startedAt[0]).toBeGreaterThanOrEqual(9);
    expect(startedAt[2] - startedAt[1]).toBeGreaterThanOrEqual(19);
    expect(await metric('roomcast_jobs_completed_total')).toBe(1);
    expect(await metric('roomcast_jobs_failed_attempts_total')).toBe(2);
  });

  it('rejects an enqueued job that exhausts its attempts with UNAVAILABLE and never runs it again', async () => {
    let attempts = 0;
    const { queue, metric } = queueWith(async () => {
      attempts++;
      throw new Error('table missing');
    });
    await expect(queue.enqueue(JobName.PersistMessage, message, 'msg-1')).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
    });
    expect(attempts).toBe(3);
    // Its caller reported the failure (a client may send again): keeping it would store it twice.
    expect(await metric('roomcast_jobs_rejected_total')).toBe(1);
    expect(await metric('roomcast_jobs_dead_lettered_total')).toBe(0);
    expect((await queue.counts())[QueueName.Messages].failed).toBe(0);
    expect(await queue.retryFailed(QueueName.Messages)).toBe(0);
    expect(attempts).toBe(3);
  });

  it('dead-letters a recorded job that exhausts its attempts, and retries it on demand', async () => {
    let healthy = false;
    let attempts = 0;
    const { queue, metric } = queueWith(async () => {
      attempts++;
      if (!healthy) throw new Error('table missing');
    });
    queue.record(JobName.PersistMessage, message);
    await expect.poll(() => attempts).toBe(3);
    await expect.poll(() => metric('roomcast_jobs_dead_lettered_total')).toBe(1);
    expect((await queue.counts())[QueueName.Messages].failed).toBe(1);
    const [failed] = await queue.failed(QueueName.Messages, 10);
    expect(failed).toMatchObject({
      name: JobName.PersistMessage,
      attemptsMade: 3,
      failedReason: 'table missing',
      data: message,
    });
    expect(await queue.failed(QueueName.Audit, 10)).toEqual([]);

    healthy = true;
    expect(await queue.retryFailed(QueueName.Messages)).toBe(1);
    await expect.poll(() => attempts).toBe(4);
    await expect
      .poll(async () => (await queue.counts())[QueueName.Messages])
      .toMatchObject({ failed: 0, completed: 1 });
  });

  it('runs at most queueConcurrency jobs of a queue at once', async () => {
    let running = 0;
    let peak = 0;
    const { queue } = queueWith(
      async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
      { MESSAGE_BATCH_SIZE: '3' },
    );
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        queue.enqueue(JobName.PersistMessage, { ...message, messageId: `m${i}` }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('joins a job enqueued again while it runs, as BullMQ does for a repeated job id', async () => {
    let runs = 0;
    const { queue } = queueWith(async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 5));
    });
    await Promise.all([
      queue.enqueue(JobName.DeviceSeen, seen('d1'), 'dev-d1'),
      queue.enqueue(JobName.DeviceSeen, seen('d1'), 'dev-d1'),
    ]);
    expect(runs).toBe(1);
    await expect(queue.enqueue(JobName.DeviceSeen, seen('d1'), '42')).rejects.toThrow(/invalid job id/);
  });

  describe('schedule', () => {
    it('runs the job every interval through the retry path, dead-lettering a run that exhausts its attempts', async () => {
      const runs: number[] = [];
      let failing = true;
      const { queue } = queueWith(async () => {
        runs.push(Date.now());
        if (failing) throw new Error('database down');
      });
      queue.schedule(JobName.OfflineExpire, 40, {});
      // The first run is due after one interval, and takes its 3 attempts (10 + 20 ms backoff).
      await expect.poll(() => runs.length, { timeout: 2000 }).toBeGreaterThanOrEqual(3);
      await expect.poll(async () => (await queue.counts())[QueueName.Inbox].failed).toBeGreaterThanOrEqual(1);
      const [failed] = await queue.failed(QueueName.Inbox, 10);
      expect(failed).toMatchObject({
        name: JobName.OfflineExpire,
        attemptsMade: 3,
        failedReason: 'database down',
      });

      failing = false;
      const before = (await queue.counts())[QueueName.Inbox].completed;
      await expect
        .poll(async () => (await queue.counts())[QueueName.Inbox].completed, { timeout: 2000 })
        .toBeGreaterThanOrEqual(before + 2);
      await queue.beforeApplicationShutdown();
    });

    it('lets a run still going absorb the ticks that fall due meanwhile', async () => {
      let running = 0;
      let peak = 0;
      let runs = 0;
      const { queue } = queueWith(async () => {
        runs++;
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 120));
        running--;
      });
      queue.schedule(JobName.OfflineExpire, 20, {});
      await new Promise((r) => setTimeout(r, 400));
      await queue.beforeApplicationShutdown();
      expect(peak).toBe(1);
      // ~400 ms of 120 ms runs: a handful, not one per 20 ms tick.
      expect(runs).toBeGreaterThanOrEqual(2);
      expect(runs).toBeLessThanOrEqual(4);
    });

    it('stops at shutdown, and registering again replaces the interval', async () => {
      let runs = 0;
      const { queue } = queueWith(async () => {
        runs++;
      });
      queue.schedule(JobName.OfflineExpire, 10_000, {});
      queue.schedule(JobName.OfflineExpire, 20, {});
      await expect.poll(() => runs).toBeGreaterThanOrEqual(1);
      await queue.beforeApplicationShutdown();
      const after = runs;
      await new Promise((r) => setTimeout(r, 100));
      expect(runs).toBe(after);
      // A schedule registered after shutdown never runs.
      queue.schedule(JobName.OfflineExpire, 20, {});
      await new Promise((r) => setTimeout(r, 100));
      expect(runs).toBe(after);
    });
  });

  it('waits for running jobs on shutdown, then refuses new ones', async () => {
    let finished = false;
    const { queue } = queueWith(async () => {
      await new Promise((r) => setTimeout(r, 30));
      finished = true;
    });
    const job = queue.enqueue(JobName.DeviceSeen, seen('d1'));
    await queue.beforeApplicationShutdown();
    expect(finished).toBe(true);
    await job;
    await expect(queue.enqueue(JobName.DeviceSeen, seen('d2'))).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
    });
  });
});

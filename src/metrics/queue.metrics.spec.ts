import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobQueue, QueueCounts } from '../persistence/job-queue.js';
import { QueueName } from '../persistence/job-registry.js';
import { QUEUE_SCRAPE_TIMEOUT_MS, QueueMetrics } from './queue.metrics.js';

const counts = (waiting: number): Record<QueueName, QueueCounts> => ({
  [QueueName.Messages]: { waiting, active: 1, delayed: 2, completed: 3, failed: 4 },
  [QueueName.Audit]: { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 },
  [QueueName.Inbox]: { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 },
});

describe('QueueMetrics', () => {
  beforeEach(() => {
    vi.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });

  it('exposes the counts per queue and state, read once per scrape', async () => {
    const registry = new Registry();
    const jobs = { counts: vi.fn(async () => counts(7)) } as unknown as JobQueue;
    new QueueMetrics(registry, jobs);
    const text = await registry.metrics();
    expect(text).toContain('roomcast_queue_jobs{queue="messages",state="waiting"} 7');
    expect(text).toContain('roomcast_queue_jobs{queue="messages",state="failed"} 4');
    expect(text).toContain('roomcast_queue_jobs{queue="audit",state="active"} 0');
    expect(text).toContain('roomcast_queue_up{queue="messages"} 1');
    expect(jobs.counts).toHaveBeenCalledTimes(1);
  });

  it('answers the scrape without the job series when the counts fail or hang', async () => {
    const registry = new Registry();
    const jobs = { counts: vi.fn(() => new Promise<never>(() => undefined)) } as unknown as JobQueue;
    new QueueMetrics(registry, jobs);
    const started = Date.now();
    const text = await registry.metrics();
    expect(Date.now() - started).toBeLessThan(QUEUE_SCRAPE_TIMEOUT_MS + 500);
    expect(text).toContain('roomcast_queue_up{queue="messages"} 0');
    expect(text).not.toMatch(/^roomcast_queue_jobs\{/m);
    // The hung read is shared by the next scrape instead of stacking up another one.
    await registry.metrics();
    expect(jobs.counts).toHaveBeenCalledTimes(1);
  });

  it('registers nothing in a process without a JobQueue', async () => {
    const registry = new Registry();
    new QueueMetrics(registry);
    expect(await registry.metrics()).not.toContain('roomcast_queue');
  });
});

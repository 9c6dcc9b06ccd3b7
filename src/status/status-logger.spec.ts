import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppConfig } from '../config/app-config.js';
import { QueueName } from '../persistence/job-registry.js';
import { StatusLogger, statusLine } from './status-logger.js';
import type { StatusService, StatusSnapshot } from './status.service.js';

const snapshot = (over: Partial<StatusSnapshot> = {}): StatusSnapshot => ({
  node_id: 'n1',
  mode: 'embedded',
  role: 'all',
  uptime_s: 5,
  connections: 12,
  rooms: 4,
  messages_per_min: 37,
  queues: [
    { name: QueueName.Messages, waiting: 1, active: 2, delayed: 3, completed: 100, failed: 9 },
    { name: QueueName.Audit, waiting: 0, active: 0, delayed: 0, completed: 5, failed: 0 },
  ],
  cluster: { nodes: [], connections: 12 },
  load: {
    window_s: 10,
    event_loop_lag_ms: { mean: 1, p99: 2, max: 3 },
    cpu_percent: 4,
    frames_in_per_s: 5,
    frames_out_per_s: 6,
  },
  memory: { rss_bytes: 1, heap_used_bytes: 1, heap_total_bytes: 1, external_bytes: 1 },
  ...over,
});

const config = (interval: number) => Object.assign(new AppConfig(), { STATUS_INTERVAL_MS: interval });

describe('statusLine', () => {
  it('gives connections, rooms, messages/min and the pending jobs of each queue', () => {
    expect(statusLine(snapshot())).toBe(
      'connections=12 rooms=4 messages/min=37 queue.messages=6 queue.audit=0',
    );
  });

  it('says when the queues could not be read', () => {
    expect(statusLine(snapshot({ queues: null, queues_error: 'timeout' }))).toBe(
      'connections=12 rooms=4 messages/min=37 queues=unavailable(timeout)',
    );
  });
});

describe('StatusLogger', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('logs the line every STATUS_INTERVAL_MS until shutdown', async () => {
    vi.useFakeTimers();
    const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const status = { snapshot: vi.fn(async () => snapshot()) } as unknown as StatusService;
    const logger = new StatusLogger(config(1000), status);
    logger.onApplicationBootstrap();
    await vi.advanceTimersByTimeAsync(3500);
    expect(log).toHaveBeenCalledTimes(3);
    expect(log).toHaveBeenLastCalledWith(statusLine(snapshot()));
    logger.onModuleDestroy();
    await vi.advanceTimersByTimeAsync(5000);
    expect(log).toHaveBeenCalledTimes(3);
  });

  it('is off with STATUS_INTERVAL_MS=0', async () => {
    vi.useFakeTimers();
    const status = { snapshot: vi.fn(async () => snapshot()) } as unknown as StatusService;
    new StatusLogger(config(0), status).onApplicationBootstrap();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(status.snapshot).not.toHaveBeenCalled();
  });

  it('skips a tick while the previous read is still running', async () => {
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    let release!: () => void;
    const snapshotFn = vi
      .fn(async () => snapshot())
      .mockImplementationOnce(() => new Promise<StatusSnapshot>((r) => (release = () => r(snapshot()))));
    const logger = new StatusLogger(config(1000), { snapshot: snapshotFn } as unknown as StatusService);
    const first = logger.logOnce();
    await logger.logOnce();
    expect(snapshotFn).toHaveBeenCalledTimes(1);
    release();
    await first;
    await logger.logOnce();
    expect(snapshotFn).toHaveBeenCalledTimes(2);
  });
});

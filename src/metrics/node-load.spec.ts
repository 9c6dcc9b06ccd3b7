import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppConfig } from '../config/app-config.js';
import { NodeLoad } from './node-load.js';

describe('NodeLoad', () => {
  afterEach(() => vi.useRealTimers());

  it('reports frame rates from the frame counters over each window, every label summed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'Date'] });
    const registry = new Registry();
    const framesIn = new Counter({
      name: 'roomcast_frames_in_total',
      help: 'x',
      labelNames: ['type'],
      registers: [registry],
    });
    const config = Object.assign(new AppConfig(), { LOAD_WINDOW_MS: 2000 });
    const load = new NodeLoad(registry, config);
    try {
      framesIn.inc({ type: 'ping' }, 30);
      framesIn.inc({ type: 'message.send' }, 10);
      await vi.advanceTimersByTimeAsync(2000);
      expect(await load.current()).toMatchObject({ window_s: 2, frames_in_per_s: 20, frames_out_per_s: 0 });
      // The next window starts from the counts the previous one ended with.
      framesIn.inc({ type: 'ping' }, 4);
      await vi.advanceTimersByTimeAsync(2000);
      expect((await load.current()).frames_in_per_s).toBe(2);
    } finally {
      load.onModuleDestroy();
    }
  });

  it('reports 0 frames in a process without the gateway counters', async () => {
    const load = new NodeLoad(new Registry(), new AppConfig());
    try {
      const sample = await load.current();
      expect(sample.frames_in_per_s).toBe(0);
      expect(sample.cpu_percent).toBeGreaterThanOrEqual(0);
    } finally {
      load.onModuleDestroy();
    }
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchWriter } from './batch-writer.js';

describe('BatchWriter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('writes at once when idle, then what arrived during a write in the next one, maxSize at a time', async () => {
    const writes: Array<{ items: number[]; done: () => void }> = [];
    const writer = new BatchWriter<number>({
      maxSize: 3,
      maxWaitMs: 0,
      write: (items) => new Promise<void>((done) => writes.push({ items, done })),
    });
    const first = writer.add(1);
    await vi.advanceTimersToNextTimerAsync();
    expect(writes.map((w) => w.items)).toEqual([[1]]);
    // The database is busy with [1]: these wait for it, whatever the timers do.
    const later = [2, 3, 4, 5].map((n) => writer.add(n));
    await vi.advanceTimersByTimeAsync(1000);
    expect(writes).toHaveLength(1);
    writes[0].done();
    await first;
    await vi.waitFor(() => expect(writes).toHaveLength(2));
    expect(writes[1].items).toEqual([2, 3, 4]);
    writes[1].done();
    await vi.waitFor(() => expect(writes).toHaveLength(3));
    expect(writes[2].items).toEqual([5]);
    writes[2].done();
    await Promise.all(later);
  });

  it('with maxWaitMs, an idle writer waits that long for more items, not longer', async () => {
    const write = vi.fn(async (_items: string[]) => undefined);
    const writer = new BatchWriter({ maxSize: 100, maxWaitMs: 20, write });
    const done = vi.fn();
    void writer.add('a').then(done);
    void writer.add('b').then(done);
    await vi.advanceTimersByTimeAsync(19);
    expect(write).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(write).toHaveBeenCalledWith(['a', 'b']);
    expect(done).toHaveBeenCalledTimes(2);
  });

  it('rejects every item of a batch whose write fails', async () => {
    const writer = new BatchWriter<number>({
      maxSize: 2,
      maxWaitMs: 0,
      write: async () => {
        throw new Error('database down');
      },
    });
    const settled = Promise.allSettled([writer.add(1), writer.add(2)]);
    await vi.runAllTimersAsync();
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error('database down'));
  });

  it('isolates a bad item: its neighbours are written alone and succeed', async () => {
    const written: number[][] = [];
    const writer = new BatchWriter<number>({
      maxSize: 3,
      maxWaitMs: 0,
      write: async (items) => {
        if (items.includes(13)) throw new Error('bad row');
        written.push(items);
      },
    });
    const settled = Promise.allSettled([writer.add(1), writer.add(13), writer.add(2)]);
    await vi.runAllTimersAsync();
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(written).toEqual([[1], [2]]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchWriter } from './batch-writer.js';

describe('BatchWriter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('writes items added together as one batch once it is full', async () => {
    const write = vi.fn(async (_items: number[]) => undefined);
    const writer = new BatchWriter({ maxSize: 3, maxWaitMs: 1000, write });
    const adds = [1, 2, 3, 4].map((n) => writer.add(n));
    await Promise.all(adds.slice(0, 3));
    expect(write).toHaveBeenCalledTimes(1);
    expect(write).toHaveBeenCalledWith([1, 2, 3]);
    await vi.advanceTimersByTimeAsync(1000);
    await adds[3];
    expect(write).toHaveBeenLastCalledWith([4]);
  });

  it('writes a partial batch after maxWaitMs, not before', async () => {
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
      maxWaitMs: 5,
      write: async () => {
        throw new Error('database down');
      },
    });
    const results = await Promise.allSettled([writer.add(1), writer.add(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error('database down'));
  });

  it('isolates a bad item: its neighbours are written alone and succeed', async () => {
    const written: number[][] = [];
    const writer = new BatchWriter<number>({
      maxSize: 3,
      maxWaitMs: 5,
      write: async (items) => {
        if (items.includes(13)) throw new Error('bad row');
        written.push(items);
      },
    });
    const results = await Promise.allSettled([writer.add(1), writer.add(13), writer.add(2)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(written).toEqual([[1], [2]]);
  });
});

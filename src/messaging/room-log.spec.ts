import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import {
  LocalSeqAllocator,
  RedisSeqAllocator,
  type SeqAllocator,
  type StoredSeqReader,
} from './seq-allocator.js';

/** The database's view: the highest stored seq per room. */
const stored = (max: Record<string, number>) =>
  ({ maxSeq: async (roomId: string) => max[roomId] ?? 0 }) as StoredSeqReader;

const redisUrl = process.env.RC_TEST_REDIS_URL;
const redis = redisUrl ? new Redis(redisUrl) : undefined;
afterAll(() => redis?.quit());

const allocators: Array<[string, (max: Record<string, number>) => SeqAllocator]> = [
  ['LocalSeqAllocator', (max) => new LocalSeqAllocator(stored(max))],
];
if (redis) {
  allocators.push([
    'RedisSeqAllocator',
    (max) =>
      new RedisSeqAllocator(
        redis,
        new RedisKeys(loadConfig({ REDIS_PREFIX: `rc-seq-spec-${process.pid}-${Date.now()}` })),
        stored(max),
      ),
  ]);
}

describe.each(allocators)('%s', (_name, make) => {
  it('counts 1, 2, 3 per room, each room on its own', async () => {
    const seqs = make({});
    expect([await seqs.next('A'), await seqs.next('A'), await seqs.next('B'), await seqs.next('A')]).toEqual([
      1, 2, 1, 3,
    ]);
    expect(await seqs.current('A')).toBe(3);
    expect(await seqs.current('C')).toBe(0);
  });

  it('continues from the highest stored seq', async () => {
    const seqs = make({ OLD: 41 });
    expect(await seqs.current('OLD')).toBe(41);
    expect(await seqs.next('OLD')).toBe(42);
  });

  it('hands back only the last number, so no gap and no reuse', async () => {
    const seqs = make({});
    await seqs.next('R');
    const second = await seqs.next('R');
    await seqs.release('R', second);
    expect(await seqs.next('R')).toBe(2);
    // A stale release (not the last number) changes nothing.
    await seqs.next('R');
    await seqs.release('R', 2);
    expect(await seqs.next('R')).toBe(4);
  });

  it('gives distinct numbers to concurrent callers', async () => {
    const seqs = make({});
    const got = await Promise.all(Array.from({ length: 200 }, () => seqs.next('HOT')));
    expect(new Set(got).size).toBe(200);
    expect(Math.max(...got)).toBe(200);
  });
});

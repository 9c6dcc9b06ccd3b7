import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { RedisIdempotencyStore } from './idempotency.store.js';
import {
  LocalRoomLog,
  RedisRoomLog,
  type RoomLog,
  type StoredSeqReader,
  type UnnumberedMessage,
} from './room-log.js';

/** The database's view: the highest stored seq per room. */
const stored = (max: Record<string, number>) =>
  ({ maxSeq: async (roomId: string) => max[roomId] ?? 0 }) as StoredSeqReader;

const msg = (content: string): UnnumberedMessage => ({
  message_id: `id-${content}`,
  room_id: 'R',
  from: { device_id: 'd', identity: 'i' },
  ts: 1,
  kind: 'text',
  content,
});

const redisUrl = process.env.RC_TEST_REDIS_URL;
const redis = redisUrl ? new Redis(redisUrl) : undefined;
afterAll(() => redis?.quit());

const logs: Array<[string, (max: Record<string, number>, size?: number) => RoomLog]> = [
  ['LocalRoomLog', (max) => new LocalRoomLog(stored(max))],
];
if (redis) {
  logs.push([
    'RedisRoomLog',
    (max, size = 100) => {
      const config = loadConfig({
        REDIS_PREFIX: `rc-log-spec-${process.pid}-${Math.random().toString(36).slice(2)}`,
        ROOM_LOG_SIZE: String(size),
      });
      return new RedisRoomLog(redis, new RedisKeys(config), stored(max), config);
    },
  ]);
}

const seqOf = async (log: RoomLog, roomId: string, content = 'x') =>
  (await log.append(roomId, msg(content))).seq;

describe.each(logs)('%s', (name, make) => {
  it('numbers 1, 2, 3 per room, each room on its own', async () => {
    const log = make({});
    expect([
      await seqOf(log, 'A'),
      await seqOf(log, 'A'),
      await seqOf(log, 'B'),
      await seqOf(log, 'A'),
    ]).toEqual([1, 2, 1, 3]);
    expect(await log.current('A')).toBe(3);
    expect(await log.current('C')).toBe(0);
  });

  it('continues from the highest stored seq', async () => {
    const log = make({ OLD: 41 });
    expect(await log.current('OLD')).toBe(41);
    expect(await seqOf(log, 'OLD')).toBe(42);
  });

  it('takes back the seq of the last append only; a later one leaves a hole, never a phantom', async () => {
    const log = make({});
    await log.append('R', msg('1'));
    const second = await log.append('R', msg('2'));
    expect(await log.retract('R', second)).toBe(true);
    expect(await seqOf(log, 'R', '2b')).toBe(2);
    const third = await log.append('R', msg('3'));
    await log.append('R', msg('4')); // another node's, say
    expect(await log.retract('R', third)).toBe(false); // its seq is not reused
    expect(await seqOf(log, 'R', '5')).toBe(5);
    if (name === 'RedisRoomLog') {
      // The failed send is not replayed: it was never acked.
      expect((await log.since('R', 0)).map((m) => [m.seq, m.content])).toEqual([
        [1, '1'],
        [2, '2b'],
        [4, '4'],
        [5, '5'],
      ]);
    }
  });

  it('gives distinct numbers to concurrent callers', async () => {
    const log = make({});
    const got = await Promise.all(Array.from({ length: 200 }, () => seqOf(log, 'HOT')));
    expect(new Set(got).size).toBe(200);
    expect(Math.max(...got)).toBe(200);
  });

  it.runIf(name === 'RedisRoomLog')(
    'keeps about ROOM_LOG_SIZE recent messages for replay, with their seq',
    async () => {
      const log = make({}, 50);
      for (let i = 1; i <= 300; i++) await log.append('R', msg(String(i)));
      const recent = await log.since('R', 0);
      // MAXLEN ~ trims in whole nodes: at least the last 50 are kept, in order, and never all 300.
      expect(recent.length).toBeGreaterThanOrEqual(50);
      expect(recent.length).toBeLessThan(300);
      expect(recent.map((m) => m.seq)).toEqual(
        Array.from({ length: recent.length }, (_, i) => 301 - recent.length + i),
      );
      expect(recent.at(-1)).toMatchObject({ seq: 300, content: '300', message_id: 'id-300' });
      expect((await log.since('R', 295)).map((m) => m.seq)).toEqual([296, 297, 298, 299, 300]);
    },
  );

  it.runIf(name === 'RedisRoomLog')('never goes back below the stream when the counter is lost', async () => {
    const config = loadConfig({ REDIS_PREFIX: `rc-log-lost-${process.pid}` });
    const keys = new RedisKeys(config);
    const log = new RedisRoomLog(redis!, keys, stored({}), config);
    for (let i = 0; i < 5; i++) await log.append('LOST', msg(String(i)));
    await redis!.del(keys.key('room', '{LOST}', 'seq'));
    expect(await seqOf(log, 'LOST')).toBe(6);
    await redis!.del(keys.key('room', '{LOST}', 'seq'), keys.key('room', '{LOST}', 'log'));
  });
});

describe.runIf(redis)('RedisRoomLog: the counter read before any message', () => {
  const config = loadConfig({ REDIS_PREFIX: `rc-log-current-${process.pid}`, ROOM_LOG_TTL_MS: '60000' });
  const keys = new RedisKeys(config);
  const seqKey = (roomId: string) => keys.key('room', `{${roomId}}`, 'seq');
  const counted = (max: Record<string, number>) => {
    const reads: string[] = [];
    const reader = {
      maxSeq: async (roomId: string) => (reads.push(roomId), max[roomId] ?? 0),
    } as StoredSeqReader;
    return { log: new RedisRoomLog(redis!, keys, reader, config), reads };
  };
  afterAll(async () => {
    const left = await redis!.keys(`${keys.key('room')}*`);
    if (left.length) await redis!.del(...left);
  });

  it('is seeded once from the database, kept ROOM_LOG_TTL_MS, and kept for good once a message is numbered', async () => {
    const { log, reads } = counted({ QUIET: 7 });
    expect(await log.current('QUIET')).toBe(7);
    expect(await log.current('QUIET')).toBe(7);
    expect(reads).toEqual(['QUIET']);
    const ttl = await redis!.pttl(seqKey('QUIET'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await seqOf(log, 'QUIET')).toBe(8);
    expect(await redis!.pttl(seqKey('QUIET'))).toBe(-1);
    expect(reads).toEqual(['QUIET']);
  });

  it('never reads below the stream when the counter is lost', async () => {
    const { log } = counted({});
    for (let i = 0; i < 3; i++) await log.append('AHEAD', msg(String(i)));
    await redis!.del(seqKey('AHEAD'));
    expect(await log.current('AHEAD')).toBe(3);
    expect(await seqOf(log, 'AHEAD')).toBe(4);
  });
});

describe.runIf(redis)('RedisRoomLog: sends found by device and client id', () => {
  it('finds the message appended as a send, with its seq, and nothing for other sends', async () => {
    const log = logs.find(([name]) => name === 'RedisRoomLog')![1]({});
    await log.append('R', msg('relay'));
    await log.append('R', msg('first'), 'd\u0000c-1');
    await log.append('R', msg('second'), 'd\u0000c-2');
    expect(await log.findSent('R', 'd\u0000c-1')).toEqual({ ...msg('first'), seq: 2 });
    expect(await log.findSent('R', 'd\u0000c-3')).toBeUndefined();
    expect(await log.findSent('OTHER', 'd\u0000c-1')).toBeUndefined();
    // The field beside the message does not leak into what replays read.
    expect(await log.since('R', 0)).toEqual([
      { ...msg('relay'), seq: 1 },
      { ...msg('first'), seq: 2 },
      { ...msg('second'), seq: 3 },
    ]);
  });
});

describe.runIf(redis)('RedisRoomLog: the announcing append', () => {
  const config = loadConfig({ REDIS_PREFIX: `rc-log-announce-${process.pid}` });
  const keys = new RedisKeys(config);
  const log = new RedisRoomLog(redis!, keys, stored({ ANN: 4 }), config);
  const claims = new RedisIdempotencyStore(redis!, keys, config);
  afterAll(async () => {
    const left = await redis!.keys(`${keys.key()}*`);
    if (left.length) await redis!.del(...left);
  });

  it("prepares the send's claim with its seq in the same step, as prepare would, keeping the claim's expiry", async () => {
    const message = msg('announced');
    expect(await claims.claim('d', 'c-1', 'n1')).toEqual({ state: 'claimed' });
    const ttl = await redis!.pttl(keys.key('idem', 'd', 'c-1'));
    const announce = claims.announcement('d', 'c-1', 'n1', message);
    expect((await log.append('ANN', message, 'd\u0000c-1', announce)).seq).toBe(5);

    const ack = { message_id: message.message_id, seq: 5, ts: message.ts };
    expect(await claims.claim('d', 'c-1', 'n2')).toEqual({ state: 'pending', holder: 'n1', prepared: ack });
    const after = await redis!.pttl(keys.key('idem', 'd', 'c-1'));
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(ttl);
    // Byte for byte what prepare writes, so confirm and every reader take it alike.
    const announced = await redis!.get(keys.key('idem', 'd', 'c-1'));
    await claims.claim('d', 'c-2', 'n1');
    await claims.prepare('d', 'c-2', 'n1', ack);
    expect(announced).toBe(await redis!.get(keys.key('idem', 'd', 'c-2')));
    expect(await claims.confirm('d', 'c-1')).toBe(true);
    expect(await claims.claim('d', 'c-1', 'n2')).toEqual({ state: 'done', result: ack });
  });

  it('creates no claim that is gone (expired or released)', async () => {
    const message = msg('late');
    const announce = claims.announcement('d', 'gone', 'n1', message);
    expect((await log.append('ANN', message, 'd\u0000gone', announce)).seq).toBeGreaterThan(0);
    expect(await redis!.exists(keys.key('idem', 'd', 'gone'))).toBe(0);
  });
});

import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { RedisIdempotencyStore } from './idempotency.store.js';

const redisUrl = process.env.RC_TEST_REDIS_URL;
const redis = redisUrl ? new Redis(redisUrl) : undefined;
const prefix = `rc-idem-spec-${process.pid}-${Math.random().toString(36).slice(2)}`;

afterAll(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const ack = { message_id: 'm-1', seq: 7, ts: 1 };

describe.runIf(redis)('RedisIdempotencyStore (redis)', () => {
  const config = loadConfig({ REDIS_PREFIX: prefix });
  const store = () => new RedisIdempotencyStore(redis!, new RedisKeys(config), config);

  it('gives a claim to one caller; a prepared claim shows its result as pending, a completed one as done', async () => {
    const s = store();
    expect(await s.claim('d1', 'r1', 'n1')).toEqual({ state: 'claimed' });
    expect(await s.claim('d1', 'r1', 'n2')).toEqual({ state: 'pending', holder: 'n1' });
    await s.prepare('d1', 'r1', 'n1', ack);
    expect(await s.claim('d1', 'r1', 'n2')).toEqual({ state: 'pending', holder: 'n1', prepared: ack });
    await s.complete('d1', 'r1', ack);
    expect(await s.claim('d1', 'r1', 'n1')).toEqual({ state: 'done', result: ack });
  });

  it('keeps the claim expiry when preparing, and prepares nothing that was not claimed', async () => {
    const s = store();
    await s.claim('d1', 'r2', 'n1');
    const key = `${prefix}:idem:d1:r2`;
    const ttl = await redis!.pttl(key);
    await s.prepare('d1', 'r2', 'n1', ack);
    const after = await redis!.pttl(key);
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(ttl);

    await s.prepare('d1', 'never-claimed', 'n1', ack);
    expect(await redis!.exists(`${prefix}:idem:d1:never-claimed`)).toBe(0);
  });

  it("takes over a dead holder's unprepared claim, once, and never a prepared or completed one", async () => {
    const s = store();
    await s.claim('d3', 'r1', 'dead');
    expect(await s.takeOver('d3', 'r1', 'other', 'n2')).toBe(false); // not that holder's
    expect(await s.takeOver('d3', 'r1', 'dead', 'n2')).toBe(true);
    expect(await s.takeOver('d3', 'r1', 'dead', 'n3')).toBe(false); // n2 has it now
    expect(await s.claim('d3', 'r1', 'n3')).toEqual({ state: 'pending', holder: 'n2' });
    expect(await redis!.pttl(`${prefix}:idem:d3:r1`)).toBeGreaterThan(0);

    await s.prepare('d3', 'r1', 'n2', ack);
    expect(await s.takeOver('d3', 'r1', 'n2', 'n3')).toBe(false);
    await s.complete('d3', 'r1', ack);
    expect(await s.takeOver('d3', 'r1', 'n2', 'n3')).toBe(false);
    expect(await s.claim('d3', 'r1', 'n3')).toEqual({ state: 'done', result: ack });
  });

  it('confirms a prepared claim as done with the result it announced, and nothing else', async () => {
    const s = store();
    await s.claim('d4', 'r1', 'n1');
    expect(await s.confirm('d4', 'r1')).toBe(false); // claimed, nothing announced yet
    expect(await s.claim('d4', 'r1', 'n2')).toEqual({ state: 'pending', holder: 'n1' });
    await s.prepare('d4', 'r1', 'n1', ack);
    expect(await s.confirm('d4', 'r1')).toBe(true);
    expect(await s.claim('d4', 'r1', 'n2')).toEqual({ state: 'done', result: ack });
    expect(await redis!.pttl(`${prefix}:idem:d4:r1`)).toBeGreaterThan(60 * 60 * 1000); // IDEMPOTENCY_TTL_MS
    expect(await s.confirm('d4', 'r1')).toBe(false); // done already
    expect(await s.confirm('d4', 'never-claimed')).toBe(false);
  });

  it('frees a released claim for the next attempt', async () => {
    const s = store();
    await s.claim('d2', 'r1', 'n1');
    await s.prepare('d2', 'r1', 'n1', ack);
    await s.release('d2', 'r1');
    expect(await s.claim('d2', 'r1', 'n1')).toEqual({ state: 'claimed' });
  });
});

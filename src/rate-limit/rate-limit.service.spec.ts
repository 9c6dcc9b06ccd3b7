import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { AppConfig } from '../config/app-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { type LimiterStore, MemoryLimiterStore, RedisLimiterStore } from './limiter-store.js';
import { RateLimitService } from './rate-limit.service.js';

const redisUrl = process.env.RC_TEST_REDIS_URL;

function configOf(overrides: Partial<AppConfig>): AppConfig {
  return Object.assign(new AppConfig(), overrides);
}

const refusal = { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) as unknown };

async function outcomes(service: RateLimitService, bucket: 'send' | 'room', key: string, n: number) {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await service.consume(bucket, key).then(
        () => 'ok',
        (err: { code: string }) => err.code,
      ),
    );
  }
  return out;
}

/** The same behaviour whichever store keeps the counters. */
function behavesAsALimiter(name: string, makeStore: () => LimiterStore) {
  describe(`RateLimitService (${name})`, () => {
    const make = (overrides: Partial<AppConfig>, registry = new Registry()) =>
      new RateLimitService(configOf(overrides), makeStore(), registry);

    it('allows the rate plus the burst, then refuses with how long to wait', async () => {
      const service = make({ RATE_SEND_PER_SEC: 2, RATE_SEND_BURST: 1 });
      expect(await outcomes(service, 'send', 'dev-a', 4)).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
      const err = await service.consume('send', 'dev-a').catch((e: unknown) => e);
      expect(err).toMatchObject(refusal);
      const wait = (err as { retryAfterMs: number }).retryAfterMs;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(1000);
    });

    it('counts each key apart, and allows again once the window has passed', async () => {
      const service = make({ RATE_ROOM_MSGS_PER_SEC: 1 });
      expect(await outcomes(service, 'room', 'ROOM0001', 2)).toEqual(['ok', 'RATE_LIMITED']);
      expect(await outcomes(service, 'room', 'ROOM0002', 1)).toEqual(['ok']);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await outcomes(service, 'room', 'ROOM0001', 1)).toEqual(['ok']);
    });

    it('never refuses a bucket set to 0', async () => {
      const service = make({ RATE_SEND_PER_SEC: 0 });
      expect(await outcomes(service, 'send', 'dev-b', 50)).not.toContain('RATE_LIMITED');
    });

    it('counts refusals per bucket in roomcast_rate_limited_total', async () => {
      const registry = new Registry();
      const service = make({ RATE_SEND_PER_SEC: 1, RATE_SEND_BURST: 0 }, registry);
      await outcomes(service, 'send', 'dev-c', 4);
      const metric = await registry.getSingleMetric('roomcast_rate_limited_total')!.get();
      expect(metric.values).toEqual([expect.objectContaining({ labels: { bucket: 'send' }, value: 3 })]);
    });
  });
}

behavesAsALimiter('memory', () => new MemoryLimiterStore());

describe('RateLimitService strikes', () => {
  it('reports a connection once it has had more than RATE_ABUSE_STRIKES refusals, others not', async () => {
    const service = new RateLimitService(
      configOf({ RATE_ABUSE_STRIKES: 2 }),
      new MemoryLimiterStore(),
      new Registry(),
    );
    expect([await service.strike('s1'), await service.strike('s1'), await service.strike('s1')]).toEqual([
      false,
      false,
      true,
    ]);
    expect(await service.strike('s2')).toBe(false);
  });

  it('never reports anyone with RATE_ABUSE_STRIKES=0', async () => {
    const service = new RateLimitService(
      configOf({ RATE_ABUSE_STRIKES: 0 }),
      new MemoryLimiterStore(),
      new Registry(),
    );
    for (let i = 0; i < 30; i++) expect(await service.strike('s1')).toBe(false);
  });
});

describe.runIf(redisUrl)('RateLimitService (redis)', () => {
  const prefix = `rc-test-rate-${process.pid}-${randomBytes(4).toString('hex')}`;
  const redis = redisUrl ? new Redis(redisUrl) : undefined;
  const keys = new RedisKeys(configOf({ REDIS_PREFIX: prefix }));

  afterAll(async () => {
    const found = await redis!.keys(`${prefix}:*`);
    if (found.length) await redis!.del(...found);
    await redis!.quit();
  });

  behavesAsALimiter('redis', () => new RedisLimiterStore(redis!, keys));

  it('shares one limit between nodes, in keys under the prefix', async () => {
    const config = configOf({ RATE_SEND_PER_SEC: 3, RATE_SEND_BURST: 0 });
    const nodeA = new RateLimitService(config, new RedisLimiterStore(redis!, keys), new Registry());
    const nodeB = new RateLimitService(config, new RedisLimiterStore(redis!, keys), new Registry());
    expect(await outcomes(nodeA, 'send', 'shared', 2)).toEqual(['ok', 'ok']);
    expect(await outcomes(nodeB, 'send', 'shared', 2)).toEqual(['ok', 'RATE_LIMITED']);
    expect(await redis!.keys(`${prefix}:rate:send:*`)).toContain(`${prefix}:rate:send:shared`);
  });

  it('limits on each node alone while Redis cannot be reached', async () => {
    const down = new Redis(redisUrl!, { lazyConnect: true, enableOfflineQueue: false });
    const service = new RateLimitService(
      configOf({ RATE_SEND_PER_SEC: 2, RATE_SEND_BURST: 0 }),
      new RedisLimiterStore(down, keys),
      new Registry(),
    );
    expect(await outcomes(service, 'send', 'offline', 3)).toEqual(['ok', 'ok', 'RATE_LIMITED']);
    down.disconnect();
  });
});

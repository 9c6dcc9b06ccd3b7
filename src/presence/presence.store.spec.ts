import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { InMemoryPresenceStore, type PresenceStore, type Session } from './presence.store.js';
import { RedisPresenceStore } from './redis-presence.store.js';

const redisUrl = process.env.RC_TEST_REDIS_URL;
const redis = redisUrl ? new Redis(redisUrl) : undefined;
const prefixes: string[] = [];
afterAll(async () => {
  if (!redis) return;
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  }
  await redis.quit();
});

const stores: Array<[string, () => PresenceStore]> = [
  ['InMemoryPresenceStore', () => new InMemoryPresenceStore()],
];
if (redis) {
  stores.push([
    'RedisPresenceStore',
    () => {
      const prefix = `rc-presence-spec-${process.pid}-${Math.random().toString(36).slice(2)}`;
      prefixes.push(prefix);
      return new RedisPresenceStore(redis, new RedisKeys(loadConfig({ REDIS_PREFIX: prefix })));
    },
  ]);
}

const session = (deviceId: string, nodeId: string, sessionId = `s-${deviceId}`): Session => ({
  deviceId,
  identity: 'web',
  sessionId,
  nodeId,
  clientIp: '127.0.0.1',
  connectedAt: 1,
  primaryRoom: 'R1',
});

const node = (id: string) => ({
  node_id: id,
  role: 'all',
  connections: 0,
  started_at: new Date(0).toISOString(),
  heartbeat_at: new Date(0).toISOString(),
});

describe.each(stores)('%s', (_name, make) => {
  it('keeps room members with a capacity, and removes only the current session', async () => {
    const store = make();
    expect(await store.add('R1', session('a', 'n1'), 2)).toBe(1);
    expect(await store.add('R1', session('b', 'n2'), 2)).toBe(2);
    expect(await store.add('R1', session('c', 'n1'), 2)).toBeNull();
    // The same device again (a takeover on another node) replaces its entry, even when full.
    expect(await store.add('R1', session('b', 'n1', 's-b2'), 2)).toBe(2);
    expect(await store.remove('R1', 'b', 's-b')).toBe(false);
    expect((await store.members('R1')).map((m) => `${m.deviceId}@${m.nodeId}`).sort()).toEqual([
      'a@n1',
      'b@n1',
    ]);
    expect(await store.remove('R1', 'b', 's-b2')).toBe(true);
    expect(await store.count('R1')).toBe(1);
    expect(await store.occupied()).toEqual(new Map([['R1', 1]]));
    expect(await store.remove('R1', 'a', 's-a')).toBe(true);
    expect(await store.occupied()).toEqual(new Map());
  });

  it('routes a device to its node and lists sessions with their rooms', async () => {
    const store = make();
    await store.heartbeat(node('n1'), 10_000);
    await store.heartbeat(node('n2'), 10_000);
    await store.connect(session('a', 'n1'));
    await store.connect(session('b', 'n2'));
    await store.add('R1', session('a', 'n1'), 0);
    await store.add('R2', session('a', 'n1'), 0);
    expect((await store.session('a'))?.nodeId).toBe('n1');
    expect(await store.sessionCount()).toBe(2);
    const listed = (await store.sessions()).map((s) => [s.deviceId, s.nodeId, [...s.rooms].sort()]);
    expect(listed.sort()).toEqual([
      ['a', 'n1', ['R1', 'R2']],
      ['b', 'n2', []],
    ]);
    await store.disconnect('a', 'other-session');
    expect(await store.session('a')).toBeDefined();
    await store.disconnect('a', 's-a');
    expect(await store.session('a')).toBeUndefined();
  });

  it('evicts every entry of a node once, and only that node', async () => {
    const store = make();
    await store.connect(session('a', 'n1'));
    await store.connect(session('b', 'n2'));
    await store.add('R1', session('a', 'n1'), 0);
    await store.add('R1', session('b', 'n2'), 0);
    const eviction = await store.evict('n1', true);
    expect(eviction.left.map((l) => [l.roomId, l.member.deviceId])).toEqual([['R1', 'a']]);
    expect(eviction.sessions.map((s) => s.deviceId)).toEqual(['a']);
    expect((await store.evict('n1', true)).left).toEqual([]);
    expect((await store.members('R1')).map((m) => m.deviceId)).toEqual(['b']);
    expect(await store.session('a')).toBeUndefined();
  });
});

describe.runIf(redis)('RedisPresenceStore heartbeats', () => {
  it('reports a node dead once its heartbeat lapses, hides its routes, and evicts it', async () => {
    const prefix = `rc-presence-spec-${process.pid}-hb`;
    prefixes.push(prefix);
    const store = new RedisPresenceStore(redis!, new RedisKeys(loadConfig({ REDIS_PREFIX: prefix })));
    expect(await store.heartbeat(node('n1'), 100)).toBe(false); // new
    expect(await store.heartbeat(node('n1'), 100)).toBe(true);
    await store.heartbeat(node('n2'), 60_000);
    await store.connect(session('a', 'n1'));
    await store.add('R1', session('a', 'n1'), 0);
    expect((await store.evict('n1')).left).toEqual([]); // still alive: not evicted
    await new Promise((r) => setTimeout(r, 150));
    expect(await store.deadNodes()).toEqual(['n1']);
    expect(await store.session('a')).toBeUndefined();
    expect((await store.nodes()).map((n) => n.node_id).sort()).toEqual(['n1', 'n2']);
    const eviction = await store.evict('n1');
    expect(eviction.left.map((l) => l.member.deviceId)).toEqual(['a']);
    expect(await store.deadNodes()).toEqual([]);
    expect((await store.nodes()).map((n) => n.node_id)).toEqual(['n2']);
  });
});

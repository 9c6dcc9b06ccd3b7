import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OfflineItemEntity } from '../src/offline/offline-item.entity.js';
import { type OfflineItemInput, OfflineService } from '../src/offline/offline.service.js';
import { JobQueue } from '../src/persistence/job-queue.js';
import { QueueName } from '../src/persistence/job-registry.js';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { ClientPool, eventually } from './support/clients.js';
import { MODES } from './support/services.js';

/** The value of one sample line of /metrics. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every row of the device, expired or not, straight from the table. */
async function rows(server: TestServer, deviceId: string) {
  return server.app
    .get(DataSource)
    .getRepository(OfflineItemEntity)
    .find({ where: { deviceId }, order: { id: 'ASC' } });
}

const note = (deviceId: string, dedupeKey: string, text = dedupeKey): OfflineItemInput => ({
  deviceId,
  kind: 'system',
  payload: { kind: 'notification', payload: { text }, ts: 1 },
  dedupeKey,
});

describe.each(MODES)('offline inbox (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let offline: OfflineService;
  let pool: ClientPool;
  let n = 0;
  const device = (name: string) => `${name}-${++n}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env);
    offline = server.app.get(OfflineService);
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  it('store() is durable when it resolves and idempotent on (device, dedupe key)', async () => {
    const d = device('store');
    const other = device('store-other');
    await offline.store([note(d, 'a', 'first'), note(d, 'b')]);
    expect((await rows(server, d)).map((r) => r.dedupeKey)).toEqual(['a', 'b']);

    // A retried store, a store racing it, and the same key for another device.
    await Promise.all([
      offline.store([note(d, 'a', 'second'), note(d, 'c')]),
      offline.store([note(d, 'a', 'third'), note(d, 'c')]),
      offline.store([note(other, 'a')]),
    ]);
    const stored = await rows(server, d);
    expect(stored.map((r) => r.dedupeKey)).toEqual(['a', 'b', 'c']);
    expect(JSON.parse(stored[0].payload)).toMatchObject({ payload: { text: 'first' } });
    expect(stored[0].expiresAt.getTime() - stored[0].createdAt.getTime()).toBe(server.config.OFFLINE_TTL_MS);
    expect(await offline.count(d)).toBe(3);
    expect(await offline.count(other)).toBe(1);
  });

  it('pending() returns items oldest first, pages by id, and never returns an expired one', async () => {
    const d = device('pending');
    await offline.store(['a', 'b', 'c', 'd'].map((k) => note(d, k)));
    const first = await offline.pending(d, 0, 2);
    expect(first).toEqual([
      {
        id: expect.any(Number),
        kind: 'system',
        payload: { kind: 'notification', payload: { text: 'a' }, ts: 1 },
      },
      {
        id: expect.any(Number),
        kind: 'system',
        payload: { kind: 'notification', payload: { text: 'b' }, ts: 1 },
      },
    ]);
    expect((await offline.pending(d, first[1].id, 10)).map((i) => i.payload)).toMatchObject([
      { payload: { text: 'c' } },
      { payload: { text: 'd' } },
    ]);

    // Past its expiry, before the expiry job (every minute here) has run: invisible, still stored.
    await server.app
      .get(DataSource)
      .getRepository(OfflineItemEntity)
      .update({ deviceId: d, dedupeKey: 'b' }, { expiresAt: new Date(Date.now() - 1000) });
    expect((await offline.pending(d, 0, 10)).map((i) => i.payload)).toMatchObject([
      { payload: { text: 'a' } },
      { payload: { text: 'c' } },
      { payload: { text: 'd' } },
    ]);
    expect(await offline.count(d)).toBe(3);
    expect(await rows(server, d)).toHaveLength(4);
  });

  it('acknowledge() removes the items up to the id, through the queue', async () => {
    const d = device('ack');
    const other = device('ack-other');
    await offline.store([note(d, 'a'), note(d, 'b'), note(d, 'c'), note(other, 'a')]);
    const items = await offline.pending(d, 0, 10);
    const completed = async () => (await server.app.get(JobQueue).counts())[QueueName.Inbox].completed;
    const before = await completed();

    offline.acknowledge(d, items[1].id);
    await eventually(
      () => rows(server, d),
      (r) => r.length === 1,
    );
    expect((await offline.pending(d, 0, 10)).map((i) => i.id)).toEqual([items[2].id]);
    expect(await offline.count(other)).toBe(1);
    // The removal was a job of the inbox queue.
    expect(await completed()).toBeGreaterThan(before);

    // Acknowledging again (a retried job, a second pong) is harmless.
    offline.acknowledge(d, items[1].id);
    await new Promise((r) => setTimeout(r, 200));
    expect(await offline.count(d)).toBe(1);
  });

  it('delivers kept items at the next handshake, oldest first, and removes them once the client has them', async () => {
    const d = device('handshake');
    await offline.store([note(d, 'x', 'one'), note(d, 'y', 'two')]);
    const { handshake } = await pool.connect({ device_id: d, identity: 'phone' });
    expect(handshake.offlineCount).toBe(2);
    expect(handshake.offline).toEqual([
      { type: 'system', data: { kind: 'notification', payload: { text: 'one' }, ts: 1 } },
      { type: 'system', data: { kind: 'notification', payload: { text: 'two' }, ts: 1 } },
    ]);
    await eventually(
      () => rows(server, d),
      (r) => r.length === 0,
    );
  });

  it('refuses a dedupe key longer than the column before writing anything', async () => {
    const d = device('long');
    await expect(offline.store([note(d, 'ok'), note(d, 'k'.repeat(201))])).rejects.toThrow(/dedupeKey/);
    expect(await rows(server, d)).toEqual([]);
  });
});

describe.each(MODES)('offline expiry (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;

  beforeAll(async () => {
    // A database and queues of its own: the schedule and the counter belong to this server alone.
    env = await testEnvironment(mode);
    server = await startTestServer(env, { OFFLINE_TTL_MS: '1000', OFFLINE_EXPIRY_INTERVAL_MS: '200' });
  });

  afterAll(async () => {
    await server?.stop();
    await env?.dispose();
  });

  const expiredTotal = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return sample(text, 'roomcast_offline_expired_total');
  };

  it('removes items past OFFLINE_TTL_MS on the schedule and counts them', async () => {
    const offline = server.app.get(OfflineService);
    const before = (await expiredTotal()) ?? 0;
    await offline.store([note('exp-1', 'a'), note('exp-1', 'b'), note('exp-2', 'a')]);
    expect(await offline.count('exp-1')).toBe(2);

    await eventually(
      async () => (await rows(server, 'exp-1')).length + (await rows(server, 'exp-2')).length,
      (left) => left === 0,
    );
    expect(await offline.pending('exp-1', 0, 10)).toEqual([]);
    await eventually(expiredTotal, (total) => total === before + 3);
  });

  it('keeps items until they expire', async () => {
    const offline = server.app.get(OfflineService);
    await offline.store([note('exp-3', 'a')]);
    // Several expiry runs (every 200 ms) pass while the item (1 s) is still valid.
    await new Promise((r) => setTimeout(r, 500));
    expect(await offline.count('exp-3')).toBe(1);
    await eventually(
      () => rows(server, 'exp-3'),
      (r) => r.length === 0,
    );
  });
});

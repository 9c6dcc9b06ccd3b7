import { ErrorCode } from '#protocol';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { databaseOptions } from '../persistence/database-options.js';
import type { JobQueue } from '../persistence/job-queue.js';
import { JobName } from '../persistence/job-registry.js';
import { OfflineItemEntity } from './offline-item.entity.js';
import { OfflineService } from './offline.service.js';

/** OfflineService against a migrated in-memory SQLite database, with the queue faked. */
describe('OfflineService', () => {
  let dataSource: DataSource;
  let service: OfflineService;
  let recorded: Array<{ name: JobName; data: unknown }>;

  beforeEach(async () => {
    dataSource = new DataSource(databaseOptions('sqlite::memory:', true));
    await dataSource.initialize();
    recorded = [];
    const jobs = {
      record: (name: JobName, data: unknown) => void recorded.push({ name, data }),
    } as unknown as JobQueue;
    const config = loadConfig({ OFFLINE_TTL_MS: '60000', LOG_LEVEL: 'fatal' });
    service = new OfflineService(dataSource.getRepository(OfflineItemEntity), jobs, config);
  });

  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
  });

  const item = (deviceId: string, dedupeKey: string, payload: object = { n: dedupeKey }) => ({
    deviceId,
    kind: 'system' as const,
    payload,
    dedupeKey,
  });

  it('stores items in one call, expiring after OFFLINE_TTL_MS, and returns them oldest first', async () => {
    const before = Date.now();
    await service.store([item('d1', 'a'), item('d2', 'b'), item('d1', 'c')]);
    const pending = await service.pending('d1', 0, 10);
    expect(pending.map((p) => p.payload)).toEqual([{ n: 'a' }, { n: 'c' }]);
    expect(pending[0].id).toBeLessThan(pending[1].id);
    expect(pending[0]).toMatchObject({ kind: 'system', id: expect.any(Number) });
    const row = await dataSource.getRepository(OfflineItemEntity).findOneByOrFail({ dedupeKey: 'a' });
    expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBe(60_000);
    expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1);
  });

  it('is idempotent on (device, dedupe key): a repeated store is one row, the first one', async () => {
    await service.store([item('d1', 'k', { v: 1 })]);
    await service.store([item('d1', 'k', { v: 2 }), item('d2', 'k', { v: 3 })]);
    await service.store([item('d1', 'k', { v: 4 }), item('d1', 'k', { v: 5 })]);
    expect(await service.pending('d1', 0, 10)).toEqual([
      { id: expect.any(Number), kind: 'system', payload: { v: 1 } },
    ]);
    expect(await service.count('d2')).toBe(1);
  });

  it('pages with afterId and limit', async () => {
    await service.store(['a', 'b', 'c', 'd', 'e'].map((k) => item('d1', k)));
    const first = await service.pending('d1', 0, 2);
    expect(first.map((p) => p.payload)).toEqual([{ n: 'a' }, { n: 'b' }]);
    const next = await service.pending('d1', first[1].id, 10);
    expect(next.map((p) => p.payload)).toEqual([{ n: 'c' }, { n: 'd' }, { n: 'e' }]);
    expect(await service.pending('d1', 0, 0)).toEqual([]);
  });

  it('never returns or counts an expired item, even before the expiry job removed it', async () => {
    await service.store([item('d1', 'old'), item('d1', 'new')]);
    await dataSource
      .getRepository(OfflineItemEntity)
      .update({ dedupeKey: 'old' }, { expiresAt: new Date(Date.now() - 1) });
    expect((await service.pending('d1', 0, 10)).map((p) => p.payload)).toEqual([{ n: 'new' }]);
    expect(await service.count('d1')).toBe(1);
    expect(await dataSource.getRepository(OfflineItemEntity).count()).toBe(2);
  });

  it('acknowledges through the queue, ignoring ids that cannot be acknowledged', () => {
    service.acknowledge('d1', 7);
    service.acknowledge('d1', 0);
    service.acknowledge('d1', Number.NaN);
    expect(recorded).toEqual([{ name: JobName.OfflineDelivered, data: { deviceId: 'd1', upToId: 7 } }]);
  });

  it('discards one item by its dedupe key', async () => {
    await service.store([item('d1', 'm-1'), item('d1', 'm-2'), item('d2', 'm-1')]);
    await service.discard('d1', 'm-1');
    await service.discard('d1', 'absent');
    expect((await service.pending('d1', 0, 10)).map((p) => p.payload)).toEqual([{ n: 'm-2' }]);
    expect(await service.count('d2')).toBe(1);
  });

  it('splits a large store into several INSERTs', async () => {
    await service.store(Array.from({ length: 1234 }, (_, i) => item('d1', `k${i}`)));
    expect(await service.count('d1')).toBe(1234);
    const pending = await service.pending('d1', 0, 2000);
    expect(pending.map((p) => p.payload)).toEqual(Array.from({ length: 1234 }, (_, i) => ({ n: `k${i}` })));
  });

  it('refuses a dedupe key the column cannot hold, before writing anything', async () => {
    await expect(service.store([item('d1', 'ok'), item('d1', 'x'.repeat(201))])).rejects.toThrow(/dedupeKey/);
    expect(await service.count('d1')).toBe(0);
  });

  it('rejects with UNAVAILABLE when the database refuses', async () => {
    await dataSource.destroy();
    await expect(service.store([item('d1', 'a')])).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
    await expect(service.pending('d1', 0, 10)).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
  });
});

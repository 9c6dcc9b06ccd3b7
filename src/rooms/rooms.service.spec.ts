import { DataSource, type Repository } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { databaseOptions } from '../persistence/database-options.js';
import type { PresenceService } from '../presence/presence.service.js';
import { RoomMemberEntity } from './room-member.entity.js';
import { RoomEntity } from './room.entity.js';
import { RoomsService } from './rooms.service.js';

/** RoomsService against a migrated in-memory SQLite database. */
describe('RoomsService', () => {
  let dataSource: DataSource;
  let rooms: Repository<RoomEntity>;
  let service: RoomsService;

  beforeEach(async () => {
    dataSource = new DataSource(databaseOptions('sqlite::memory:', true));
    await dataSource.initialize();
    rooms = dataSource.getRepository(RoomEntity);
    service = new RoomsService(
      rooms,
      dataSource.getRepository(RoomMemberEntity),
      {} as PresenceService,
      loadConfig({ LOG_LEVEL: 'fatal' }),
    );
  });

  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
  });

  it('ensure: handshakes arriving together for a new room share one lookup and one insert', async () => {
    const lookups = vi.spyOn(rooms, 'findOneBy');
    const inserts = vi.spyOn(rooms, 'insert');
    const found = await Promise.all(['d1', 'd2', 'd3'].map((d) => service.ensure('NEW1', d)));
    expect(found.map((f) => f.created)).toEqual([true, false, false]);
    expect(new Set(found.map((f) => f.room.roomId))).toEqual(new Set(['NEW1']));
    expect(found[0].room.createdBy).toBe('d1');
    expect(lookups).toHaveBeenCalledTimes(1);
    expect(inserts).toHaveBeenCalledTimes(1);
    expect(await rooms.countBy({ roomId: 'NEW1' })).toBe(1);

    // Nothing is kept once the work is done: a later handshake reads the room again.
    expect(await service.ensure('NEW1', 'd4')).toMatchObject({ created: false, room: { roomId: 'NEW1' } });
    expect(lookups).toHaveBeenCalledTimes(2);
    expect(inserts).toHaveBeenCalledTimes(1);
  });

  it('ensure: a creator that lost the insert to another node gets the room that node made', async () => {
    const insert = rooms.insert.bind(rooms);
    vi.spyOn(rooms, 'insert').mockImplementationOnce(async (room) => {
      // Another node creates it between this node's lookup and its insert.
      await insert({ ...(room as RoomEntity), createdBy: 'elsewhere' });
      return insert(room as RoomEntity);
    });
    const found = await Promise.all(['d1', 'd2'].map((d) => service.ensure('RACE1', d)));
    expect(found.map((f) => [f.created, f.room.createdBy])).toEqual([
      [false, 'elsewhere'],
      [false, 'elsewhere'],
    ]);
  });

  it('ensure: without create:room a missing room is FORBIDDEN, and a caller that may create still creates it', async () => {
    const [refused, allowed] = await Promise.allSettled([
      service.ensure('NEW2', 'd1', false),
      service.ensure('NEW2', 'd2', true),
    ]);
    expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'FORBIDDEN' } });
    expect(allowed).toMatchObject({ status: 'fulfilled', value: { created: true } });
  });
});

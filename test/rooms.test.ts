import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomsService } from '../src/rooms/rooms.service.js';
import { ClientPool, eventually } from './support/clients.js';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { MODES } from './support/services.js';

describe.each(MODES)('idle rooms (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env, { ROOM_IDLE_TTL_MS: '1500', ROOM_SWEEP_INTERVAL_MS: '200' });
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  const roomExists = async (roomId: string) =>
    (await server.app.get(DataSource).query('SELECT room_id FROM rooms WHERE room_id = ?', [roomId]))
      .length === 1;

  it('deletes an empty room once it has been idle for ROOM_IDLE_TTL_MS, and keeps occupied ones', async () => {
    const a = await pool.connect({ device_id: 'idle-a', identity: 'web', room_id: 'EMPTYSOON' });
    const b = await pool.connect({ device_id: 'idle-b', identity: 'web', room_id: 'STAYSFULL' });
    await a.client.request('message.send', {
      room_id: 'EMPTYSOON',
      kind: 'text',
      content: 'kept after the room goes',
    });
    await a.client.close();
    // Idle time counts from the last leave, not from creation.
    expect(await roomExists('EMPTYSOON')).toBe(true);
    await eventually(
      () => roomExists('EMPTYSOON'),
      (exists) => !exists,
      5000,
    );
    expect(await roomExists('STAYSFULL')).toBe(true);
    expect(b.client.isOpen).toBe(true);
    const messages = await server.app
      .get(DataSource)
      .query('SELECT content FROM messages WHERE room_id = ?', ['EMPTYSOON']);
    expect(messages).toHaveLength(1);
  });

  it('continues the seq of a reclaimed room that is joined again', async () => {
    const first = await pool.connect({ device_id: 'idle-c', identity: 'web', room_id: 'COMEBACK' });
    await first.client.request('message.send', { room_id: 'COMEBACK', kind: 'text', content: 'one' });
    await first.client.close();
    await eventually(
      () => roomExists('COMEBACK'),
      (exists) => !exists,
      5000,
    );
    const again = await pool.connect({ device_id: 'idle-d', identity: 'web', room_id: 'COMEBACK' });
    expect(again.handshake.room.created).toBe(true);
    const ack = await again.client.request('message.send', {
      room_id: 'COMEBACK',
      kind: 'text',
      content: 'two',
    });
    expect(ack.seq).toBe(2);
  });

  it('reclaimIdle leaves rooms touched after the cutoff alone', async () => {
    const rooms = server.app.get(RoomsService);
    const room = await rooms.create({ name: 'fresh' });
    expect(await rooms.reclaimIdle()).not.toContain(room.roomId);
    expect(await rooms.reclaimIdle(Date.now() + 10_000)).toContain(room.roomId);
  });
});

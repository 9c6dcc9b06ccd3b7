import type { RoomcastClient } from '#client';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { ClientPool } from './support/clients.js';
import { MODES } from './support/services.js';

const INTERVAL_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(MODES)('typing indicators (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  let n = 0;
  const device = (name: string) => `${name}-${++n}`;
  const room = () => `TYPE${String(++n).padStart(4, '0')}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env, { TYPING_INTERVAL_MS: String(INTERVAL_MS) });
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  async function members(roomId: string, names: string[]) {
    const out: Array<{ client: RoomcastClient; id: string; name: string }> = [];
    for (const name of names) {
      const id = device(name);
      const { client } = await pool.connect({ device_id: id, identity: name, room_id: roomId });
      out.push({ client, id, name });
    }
    return out;
  }

  const typing = (client: RoomcastClient, data: Record<string, unknown>, id?: string) =>
    client.send(id === undefined ? { type: 'typing', data } : { type: 'typing', id, data });

  /** Every frame sent before a ping has been handled once its pong is back. */
  const settle = (...clients: RoomcastClient[]) => Promise.all(clients.map((c) => c.ping()));

  it('reaches the other members of the room, not the sender, with no ack and nothing stored', async () => {
    const roomId = room();
    const [ann, bob, cat] = await members(roomId, ['ann', 'bob', 'cat']);
    typing(ann.client, { room_id: roomId, state: 'start' }, 't-1');
    const expected = { room_id: roomId, from: { device_id: ann.id, identity: 'ann' }, state: 'start' };
    expect(await bob.client.waitFor('typing')).toEqual(expected);
    expect(await cat.client.waitFor('typing')).toEqual(expected);
    await settle(ann.client);
    expect(ann.client.drain('typing')).toEqual([]);
    // Fire-and-forget: the frame's id got no ack.
    expect(ann.client.drain('ack')).toEqual([]);
    expect(ann.client.drain('error')).toEqual([]);
    // Never stored: the room has no message and no seq was taken.
    const rows = (await server.app
      .get(DataSource)
      .query('SELECT COUNT(*) AS n FROM messages WHERE room_id = ?', [roomId])) as Array<{ n: unknown }>;
    expect(Number(rows[0].n)).toBe(0);
    expect((await bob.client.request('room.join', { room_id: roomId })).last_seq).toBe(0);
  });

  it(`coalesces a burst to at most one event per ${INTERVAL_MS} ms, delivering the trailing stop`, async () => {
    const roomId = room();
    const [ann, bob] = await members(roomId, ['ann', 'bob']);
    const arrivals: Array<{ at: number; state: string }> = [];
    bob.client.on('typing', (data) => arrivals.push({ at: Date.now(), state: data.state }));
    // 20 frames within 300 ms, alternating, the last one a stop.
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      typing(ann.client, { room_id: roomId, state: i % 2 === 0 ? 'start' : 'stop' });
      await sleep(12);
    }
    expect(Date.now() - started).toBeLessThan(INTERVAL_MS);
    await sleep(3 * INTERVAL_MS);
    expect(arrivals.map((a) => a.state)).toEqual(['start', 'stop']);
    // The trailing edge comes when the first window ends (timer slack allowed).
    expect(arrivals[1].at - arrivals[0].at).toBeGreaterThanOrEqual(INTERVAL_MS - 50);
    // A window that ended quietly is forgotten: the next signal goes at once.
    typing(ann.client, { room_id: roomId, state: 'start' });
    await sleep(100);
    expect(arrivals.map((a) => a.state)).toEqual(['start', 'stop', 'start']);
  });

  it('goes to the peer device for direct typing, without room_id', async () => {
    const [ann, bob] = [device('ann'), device('bob')];
    const { client: a } = await pool.connect({ device_id: ann, identity: 'ann' });
    const { client: b } = await pool.connect({ device_id: bob, identity: 'bob' });
    typing(a, { to_device_id: bob, state: 'start' });
    expect(await b.waitFor('typing')).toEqual({ from: { device_id: ann, identity: 'ann' }, state: 'start' });
    // To a device that is not connected: dropped, not kept for later, and no error.
    typing(a, { to_device_id: device('absent'), state: 'start' }, 't-absent');
    await settle(a);
    expect(a.drain('error')).toEqual([]);
  });

  it('refuses room typing from a non-member (FORBIDDEN) and malformed frames (BAD_REQUEST)', async () => {
    const roomId = room();
    const [ann] = await members(roomId, ['ann']);
    const { client: outsider } = await pool.connect({ device_id: device('out'), identity: 'out' });
    await expect(
      outsider.rawRequest('typing', { room_id: roomId, state: 'start' }, { timeoutMs: 2000 }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await settle(ann.client);
    expect(ann.client.drain('typing')).toEqual([]);
    for (const data of [
      { room_id: roomId },
      { room_id: roomId, state: 'maybe' },
      { state: 'start' },
      { room_id: roomId, to_device_id: 'x', state: 'start' },
      { room_id: roomId, state: 'start', extra: 1 },
    ]) {
      await expect(
        ann.client.rawRequest('typing', data, { timeoutMs: 2000 }),
        JSON.stringify(data),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
  });
});

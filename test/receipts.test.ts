import type { RoomcastClient } from '#client';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageEntity } from '../src/messaging/message.entity.js';
import {
  ADMIN_TOKEN,
  startTestServer,
  testEnvironment,
  type TestEnvironment,
  type TestServer,
} from './support/app.js';
import { ClientPool, eventually } from './support/clients.js';
import { MODES } from './support/services.js';

interface Unread {
  device_id: string;
  rooms: Array<{ room_id: string; unread: number; up_to_seq: number; last_seq: number }>;
  peers: Array<{ peer_device_id: string; unread: number; up_to_message_id: string | null }>;
}

type ReadAck = { ok: true };

describe.each(MODES)('receipts and read state (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  let n = 0;
  const device = (name: string) => `${name}-${++n}`;
  const room = () => `RCPT${String(++n).padStart(4, '0')}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env);
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  const stored = async (sql: string, params: unknown[]) =>
    server.app.get(DataSource).query(sql, params) as Promise<Array<Record<string, unknown>>>;

  const readState = (deviceId: string, scope: string) =>
    stored('SELECT up_to_seq, up_to_message_id FROM read_state WHERE device_id = ? AND scope = ?', [
      deviceId,
      scope,
    ]);

  async function get(path: string, token: string | null = ADMIN_TOKEN) {
    const res = await fetch(`${server.url}${path}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  async function unread(deviceId: string, query = ''): Promise<Unread> {
    const res = await get(`/api/devices/${deviceId}/unread${query}`);
    expect(res.status).toBe(200);
    return res.body as Unread;
  }

  const roomEntry = async (deviceId: string, roomId: string, query = '') =>
    (await unread(deviceId, query)).rooms.find((r) => r.room_id === roomId);
  const peerEntry = async (deviceId: string, peer: string) =>
    (await unread(deviceId)).peers.find((p) => p.peer_device_id === peer);

  const read = (client: RoomcastClient, data: Record<string, unknown>) =>
    client.rawRequest<ReadAck>('message.read', data);

  /** Members in one room; the first one sends `count` messages, which the others receive. */
  async function roomWithMessages(count: number, members = ['ann', 'bob', 'cat']) {
    const roomId = room();
    const clients: Array<{ client: RoomcastClient; id: string }> = [];
    for (const name of members) {
      const id = device(name);
      const { client } = await pool.connect({ device_id: id, identity: name, room_id: roomId });
      clients.push({ client, id });
    }
    for (let i = 1; i <= count; i++) {
      await clients[0].client.request('message.send', { room_id: roomId, kind: 'text', content: `m${i}` });
    }
    for (const { client } of clients.slice(1)) await client.collect('message', count);
    return { roomId, clients };
  }

  /** Direct messages stored as the writer stores them (ids are UUIDv7, in sending order). */
  async function storeDirect(from: string, to: string, opts: { recalled?: boolean } = {}): Promise<string> {
    const messageId = uuidv7();
    await server.app
      .get(DataSource)
      .createQueryBuilder()
      .insert()
      .into(MessageEntity)
      .values({
        messageId,
        roomId: null,
        toDeviceId: to,
        fromDeviceId: from,
        fromIdentity: from,
        kind: 'text',
        content: JSON.stringify(`dm ${messageId}`),
        mentions: null,
        seq: null,
        clientMsgId: null,
        sentAt: new Date(),
        conversation: [from, to].sort().join('|'),
        recalledAt: opts.recalled ? new Date() : null,
        recalledBy: opts.recalled ? from : null,
      })
      .execute();
    return messageId;
  }

  /** Proves nothing more is on its way: a ping is answered after every frame sent before it. */
  const settle = async (...clients: RoomcastClient[]) => Promise.all(clients.map((c) => c.ping()));

  it('sends a receipt to the other members of the room, not to the reader, and acks ok', async () => {
    const {
      roomId,
      clients: [ann, bob, cat],
    } = await roomWithMessages(3);
    expect(await read(bob.client, { room_id: roomId, up_to_seq: 2 })).toEqual({ ok: true });
    const expected = { room_id: roomId, device_id: bob.id, up_to_seq: 2 };
    expect(await ann.client.waitFor('receipt')).toEqual(expected);
    expect(await cat.client.waitFor('receipt')).toEqual(expected);

    // Behind the marker, or at it: acked, nothing sent.
    expect(await read(bob.client, { room_id: roomId, up_to_seq: 1 })).toEqual({ ok: true });
    expect(await read(bob.client, { room_id: roomId, up_to_seq: 2 })).toEqual({ ok: true });
    expect(await read(bob.client, { room_id: roomId, up_to_seq: 3 })).toEqual({ ok: true });
    expect(await ann.client.waitFor('receipt')).toEqual({ ...expected, up_to_seq: 3 });
    await settle(ann.client, bob.client);
    expect(ann.client.drain('receipt')).toEqual([]);
    expect(bob.client.drain('receipt')).toEqual([]);
  });

  it('stores the read state through the queue, keeping the furthest marker', async () => {
    const {
      roomId,
      clients: [, bob],
    } = await roomWithMessages(4, ['ann', 'bob']);
    await read(bob.client, { room_id: roomId, up_to_seq: 3 });
    await read(bob.client, { room_id: roomId, up_to_seq: 1 });
    const rows = await eventually(
      () => readState(bob.id, `room:${roomId}`),
      (r) => r.length === 1,
    );
    expect(Number(rows[0].up_to_seq)).toBe(3);
    expect(rows[0].up_to_message_id).toBeNull();
    await read(bob.client, { room_id: roomId, up_to_seq: 4 });
    await eventually(
      () => readState(bob.id, `room:${roomId}`),
      (r) => Number(r[0]?.up_to_seq) === 4,
    );
  });

  it('counts unread messages per room through the admin API, before and after reading', async () => {
    const {
      roomId,
      clients: [ann, bob],
    } = await roomWithMessages(5, ['ann', 'bob']);
    // No read state yet: listed only when asked for.
    expect(await roomEntry(bob.id, roomId)).toBeUndefined();
    expect(await roomEntry(bob.id, roomId, `?rooms=${roomId},OTHER-ROOM`)).toEqual({
      room_id: roomId,
      unread: 5,
      up_to_seq: 0,
      last_seq: 5,
    });
    expect((await unread(bob.id, `?rooms=${roomId}&rooms=OTHER-ROOM`)).rooms.map((r) => r.room_id)).toEqual(
      [roomId, 'OTHER-ROOM'].sort(),
    );

    // Right after the read, before the queue may have written it: this node knows.
    await read(bob.client, { room_id: roomId, up_to_seq: 3 });
    expect(await roomEntry(bob.id, roomId)).toEqual({
      room_id: roomId,
      unread: 2,
      up_to_seq: 3,
      last_seq: 5,
    });

    await ann.client.request('message.send', { room_id: roomId, kind: 'text', content: 'one more' });
    expect(await roomEntry(bob.id, roomId)).toMatchObject({ unread: 3, last_seq: 6 });
    await read(bob.client, { room_id: roomId, up_to_seq: 6 });
    expect(await roomEntry(bob.id, roomId)).toMatchObject({ unread: 0, up_to_seq: 6 });
    // The sender's own count is its business: it has read nothing.
    expect(await roomEntry(ann.id, roomId, `?rooms=${roomId}`)).toMatchObject({ unread: 6, up_to_seq: 0 });
  });

  it('refuses reads of rooms one is not in, seqs beyond the last, and malformed reads', async () => {
    const {
      roomId,
      clients: [, bob],
    } = await roomWithMessages(2, ['ann', 'bob']);
    const { client: outsider } = await pool.connect({ device_id: device('out'), identity: 'out' });
    await expect(read(outsider, { room_id: roomId, up_to_seq: 1 })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(read(bob.client, { room_id: roomId, up_to_seq: 3 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    for (const data of [
      {},
      { room_id: roomId },
      { up_to_seq: 1 },
      { peer_device_id: 'x' },
      { room_id: roomId, up_to_seq: 1, peer_device_id: 'x', up_to_message_id: 'y' },
      { room_id: roomId, up_to_message_id: 'y' },
      { room_id: roomId, up_to_seq: -1 },
      { room_id: roomId, up_to_seq: '1' },
      { room_id: roomId, up_to_seq: 1, extra: true },
    ]) {
      await expect(read(bob.client, data), JSON.stringify(data)).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
    }
    // The connection is unharmed.
    expect(await read(bob.client, { room_id: roomId, up_to_seq: 2 })).toEqual({ ok: true });
  });

  it('direct conversations: receipt to the peer, unread counts from the marker (messages stored directly)', async () => {
    const [annId, bobId] = [device('ann'), device('bob')];
    const { client: ann } = await pool.connect({ device_id: annId, identity: 'ann' });
    const { client: bob } = await pool.connect({ device_id: bobId, identity: 'bob' });
    const m1 = await storeDirect(annId, bobId);
    const m2 = await storeDirect(annId, bobId);
    const reply = await storeDirect(bobId, annId);
    const m3 = await storeDirect(annId, bobId);
    await storeDirect(annId, bobId, { recalled: true });

    // Listed without read state: ann sent bob direct messages. Recalled ones do not count.
    expect(await peerEntry(bobId, annId)).toEqual({
      peer_device_id: annId,
      unread: 3,
      up_to_message_id: null,
    });
    expect(await peerEntry(annId, bobId)).toEqual({
      peer_device_id: bobId,
      unread: 1,
      up_to_message_id: null,
    });

    expect(await read(bob, { peer_device_id: annId, up_to_message_id: m2 })).toEqual({ ok: true });
    expect(await ann.waitFor('receipt')).toEqual({
      peer_device_id: bobId,
      device_id: bobId,
      up_to_message_id: m2,
    });
    expect(await peerEntry(bobId, annId)).toEqual({ peer_device_id: annId, unread: 1, up_to_message_id: m2 });

    // Reading one's own message moves the marker too; a marker behind is a no-op.
    expect(await read(bob, { peer_device_id: annId, up_to_message_id: reply })).toEqual({ ok: true });
    expect(await ann.waitFor('receipt')).toMatchObject({ up_to_message_id: reply });
    expect(await read(bob, { peer_device_id: annId, up_to_message_id: m1 })).toEqual({ ok: true });
    expect(await read(bob, { peer_device_id: annId, up_to_message_id: m3 })).toEqual({ ok: true });
    expect(await ann.waitFor('receipt')).toMatchObject({ up_to_message_id: m3 });
    await settle(ann, bob);
    expect(ann.drain('receipt')).toEqual([]);
    expect(bob.drain('receipt')).toEqual([]);
    expect(await peerEntry(bobId, annId)).toMatchObject({ unread: 0, up_to_message_id: m3 });

    const rows = await eventually(
      () => readState(bobId, `peer:${annId}`),
      (r) => r[0]?.up_to_message_id === m3,
    );
    expect(rows[0].up_to_seq).toBeNull();

    // A message of another conversation, or none at all: NOT_FOUND.
    const cat = device('cat');
    const elsewhere = await storeDirect(annId, cat);
    await expect(read(bob, { peer_device_id: annId, up_to_message_id: elsewhere })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(read(bob, { peer_device_id: cat, up_to_message_id: elsewhere })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(read(bob, { peer_device_id: annId, up_to_message_id: uuidv7() })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('direct messages sent over the socket: the reader acks, the sender gets the receipt', async (ctx) => {
    const [annId, bobId] = [device('ann'), device('bob')];
    const { client: ann } = await pool.connect({ device_id: annId, identity: 'ann' });
    const { client: bob } = await pool.connect({ device_id: bobId, identity: 'bob' });
    let sent: { message_id: string };
    try {
      sent = await ann.request('message.send', { to_device_id: bobId, kind: 'text', content: 'psst' });
    } catch (err) {
      // TODO(direct messages): remove this skip once `message.send` with to_device_id has landed.
      if ((err as { code?: string }).code === 'BAD_REQUEST' && /not available/.test((err as Error).message))
        return ctx.skip();
      throw err;
    }
    const received = await bob.waitFor('message', (m) => m.message_id === sent.message_id);
    expect(received.to_device_id).toBe(bobId);
    // Direct messages are counted from the database: once the writer has stored the message.
    await eventually(
      () => peerEntry(bobId, annId),
      (entry) => entry?.unread === 1,
    );
    // The writer may not have stored the message yet: the read waits for it.
    expect(await read(bob, { peer_device_id: annId, up_to_message_id: sent.message_id })).toEqual({
      ok: true,
    });
    expect(await ann.waitFor('receipt')).toEqual({
      peer_device_id: bobId,
      device_id: bobId,
      up_to_message_id: sent.message_id,
    });
    expect(await peerEntry(bobId, annId)).toEqual({
      peer_device_id: annId,
      unread: 0,
      up_to_message_id: sent.message_id,
    });
  });

  it('guards the unread route: bearer token, valid ids', async () => {
    expect((await get('/api/devices/d1/unread', null)).status).toBe(401);
    expect((await get('/api/devices/has%20space/unread')).status).toBe(400);
    expect((await get('/api/devices/d1/unread?rooms=bad%20room')).status).toBe(400);
    expect((await get('/api/devices/d1/unread?peers=bad%20peer')).status).toBe(400);
    expect((await get('/api/devices/d1/unread?other=1')).status).toBe(400);
    expect(await unread('never-seen')).toEqual({ device_id: 'never-seen', rooms: [], peers: [] });
  });

  it('keeps read state across a restart', async () => {
    const {
      roomId,
      clients: [, bob],
    } = await roomWithMessages(3, ['ann', 'bob']);
    await read(bob.client, { room_id: roomId, up_to_seq: 2 });
    await eventually(
      () => readState(bob.id, `room:${roomId}`),
      (r) => Number(r[0]?.up_to_seq) === 2,
    );
    await pool.closeAll();
    await server.stop();
    server = await startTestServer(env);
    pool = new ClientPool(server.wsUrl);
    expect(await roomEntry(bob.id, roomId)).toEqual({
      room_id: roomId,
      unread: 1,
      up_to_seq: 2,
      last_seq: 3,
    });
  });
});

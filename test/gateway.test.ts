import { RoomcastClient, RoomcastConnectError } from '#client';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ClientPool, eventually } from './support/clients.js';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { MODES } from './support/services.js';

describe.each(MODES)('gateway over a real socket (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  let n = 0;
  /** A device id no other test uses. */
  const device = (name: string) => `${name}-${++n}`;
  /** A room id no other test uses. */
  const room = () => `ROOM${String(++n).padStart(4, '0')}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env, {
      HANDSHAKE_TIMEOUT_MS: '400',
      HEARTBEAT_MS: '300',
      MAX_PAYLOAD_BYTES: '4096',
      FRAME_MAX_DEPTH: '16',
    });
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  const stored = async (sql: string, params: unknown[]) =>
    server.app.get(DataSource).query(sql, params) as Promise<Array<Record<string, unknown>>>;

  describe('handshake', () => {
    it('answers hello with connection, room and offline_done, in that order', async () => {
      const id = device('hs');
      const { handshake } = await pool.connect({ device_id: id, identity: 'mobile_user' });
      expect(handshake.received).toEqual(['connection', 'room', 'offline_done']);
      expect(handshake.connection).toMatchObject({
        device_id: id,
        identity: 'mobile_user',
        node_id: server.config.NODE_ID,
        heartbeat_ms: 300,
      });
      expect(typeof handshake.connection.session_id).toBe('string');
      expect(Math.abs(handshake.connection.server_time - Date.now())).toBeLessThan(5000);
      expect(handshake.room.room_id).toMatch(/^[A-Z0-9]{8}$/);
      expect(handshake.room).toMatchObject({ created: true, total_clients: 1 });
      expect(handshake.offlineCount).toBe(0);
    });

    it('accepts the legacy typeless first frame', async () => {
      const roomId = room();
      const { handshake } = await RoomcastClient.connect(
        server.wsUrl,
        { device_id: device('legacy'), identity: 'old', room_id: roomId },
        { legacy: true },
      );
      expect(handshake.room).toMatchObject({ room_id: roomId, created: true, total_clients: 1 });
    });

    it('joins the room given, creating it once', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('a'), identity: 'web', room_id: roomId });
      const b = await pool.connect({ device_id: device('b'), identity: 'web', room_id: roomId });
      expect(a.handshake.room).toEqual({ room_id: roomId, created: true, total_clients: 1, last_seq: 0 });
      expect(b.handshake.room).toEqual({ room_id: roomId, created: false, total_clients: 2, last_seq: 0 });
    });

    it('returns a reconnecting device to its last room', async () => {
      const id = device('back');
      const first = await pool.connect({ device_id: id, identity: 'web' });
      await first.client.close();
      const again = await pool.connect({ device_id: id, identity: 'web' });
      expect(again.handshake.room).toMatchObject({ room_id: first.handshake.room.room_id, created: false });
    });

    it('replaces an older connection of the same device with 4409', async () => {
      const id = device('dup');
      const roomId = room();
      const old = await pool.connect({ device_id: id, identity: 'web', room_id: roomId });
      const watcher = await pool.connect({ device_id: device('w'), identity: 'web', room_id: roomId });
      const fresh = await pool.connect({ device_id: id, identity: 'web', room_id: roomId });
      expect((await old.client.closed).code).toBe(4409);
      expect(fresh.handshake.room.total_clients).toBe(2);
      // The room still has the device once, on its new connection.
      const info = await watcher.client.request('query_room', { room_id: roomId });
      expect(info.clients.map((c) => c.device_id).sort()).toEqual(
        [id, watcher.handshake.connection.device_id].sort(),
      );
      const ack = await fresh.client.request('message.send', {
        room_id: roomId,
        kind: 'text',
        content: 'still here',
      });
      expect(ack.seq).toBe(1);
    });

    it('closes with 4408 when no hello arrives in time', async () => {
      const client = await pool.open();
      expect((await client.closed).code).toBe(4408);
    });

    it('closes with 4400 when the first frame is not a hello', async () => {
      const client = await pool.open();
      client.send({ type: 'room.join', id: 'x', data: { room_id: 'ABCDEFGH' } });
      expect((await client.closed).code).toBe(4400);
      const binary = await pool.open();
      binary.sendBinary(new Uint8Array([1, 2, 3]));
      expect((await binary.closed).code).toBe(4400);
    });

    it('refuses an invalid hello with BAD_REQUEST and 4400', async () => {
      const client = await pool.open();
      await expect(client.hello({ device_id: 'has spaces', identity: 'x' })).rejects.toMatchObject({
        closeCode: 4400,
      });
    });
  });

  describe('rooms', () => {
    it('joins, tells the others, answers query_room, leaves', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('ra'), identity: 'alice', room_id: roomId });
      const b = await pool.connect({ device_id: device('rb'), identity: 'bob' });
      const bId = b.handshake.connection.device_id;

      const ack = await b.client.request('room.join', { room_id: roomId });
      expect(ack).toEqual({ room_id: roomId, total_clients: 2, last_seq: 0 });
      expect(await a.client.waitFor('presence.join')).toEqual({
        room_id: roomId,
        device_id: bId,
        identity: 'bob',
      });

      b.client.send({ type: 'query_room', id: 'q-1', data: { room_id: roomId } });
      const info = await b.client.waitFor('room_info', (_d, e) => e.id === 'q-1');
      expect(info.total_clients).toBe(2);
      expect(info.clients).toContainEqual({ device_id: bId, identity: 'bob' });

      expect(await b.client.request('room.leave', { room_id: roomId })).toEqual({ room_id: roomId });
      expect(await a.client.waitFor('presence.leave')).toEqual({
        room_id: roomId,
        device_id: bId,
        identity: 'bob',
      });
      await expect(b.client.request('room.leave', { room_id: roomId })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });

    it('query_room defaults to the primary room and records the query', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('q'), identity: 'web', room_id: roomId });
      const info = await a.client.request('query_room', {});
      expect(info).toEqual({
        room_id: roomId,
        total_clients: 1,
        clients: [{ device_id: a.handshake.connection.device_id, identity: 'web' }],
      });
      await eventually(
        () => stored('SELECT total_clients FROM room_queries WHERE room_id = ?', [roomId]),
        (rows) => rows.length === 1,
      );
    });

    it('creates rooms, refuses a taken id, and enforces max_clients', async () => {
      const a = await pool.connect({ device_id: device('c'), identity: 'web' });
      const created = await a.client.request('room.create', {});
      expect(created.room_id).toMatch(/^[A-Z0-9]{8}$/);
      const named = room();
      expect(
        await a.client.request('room.create', { room_id: named, name: 'Two seats', max_clients: 2 }),
      ).toEqual({ room_id: named });
      await expect(a.client.request('room.create', { room_id: named })).rejects.toMatchObject({
        code: 'CONFLICT',
      });

      await a.client.request('room.join', { room_id: named });
      const b = await pool.connect({ device_id: device('c'), identity: 'web', room_id: named });
      expect(b.handshake.room.total_clients).toBe(2);
      const c = await pool.connect({ device_id: device('c'), identity: 'web' });
      await expect(c.client.request('room.join', { room_id: named })).rejects.toMatchObject({
        code: 'ROOM_FULL',
      });
      // A hello into a full room is refused and closed (4403).
      const d = await pool.open();
      await expect(
        d.hello({ device_id: device('c'), identity: 'web', room_id: named }),
      ).rejects.toMatchObject({ closeCode: 4403 });
    });
  });

  describe('relay', () => {
    it('relays typeless frames verbatim to the other members and stores them', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('ta'), identity: 'web', room_id: roomId });
      const b = await pool.connect({ device_id: device('tb'), identity: 'web', room_id: roomId });
      const frame = { action: 'move', x: 1, nested: { y: [1, 2] } };
      a.client.send(frame);
      expect(await b.client.waitFor('relay')).toEqual(frame);
      a.client.send({ type: 'text', content: 'hello room' });
      expect(await b.client.waitFor('relay')).toEqual({ type: 'text', content: 'hello room' });
      // The sender does not get its own frames back.
      await expect(a.client.waitFor('relay', undefined, 300)).rejects.toThrow();
      const rows = await eventually(
        () => stored('SELECT kind, content, seq FROM messages WHERE room_id = ? ORDER BY seq', [roomId]),
        (r) => r.length === 2,
      );
      expect(rows.map((r) => [r.kind, JSON.parse(String(r.content)), Number(r.seq)])).toEqual([
        ['custom', frame, 1],
        ['text', 'hello room', 2],
      ]);
    });

    it('relays binary frames unchanged to the primary room', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('ba'), identity: 'web', room_id: roomId });
      const b = await pool.connect({ device_id: device('bb'), identity: 'web', room_id: roomId });
      a.client.sendBinary(new Uint8Array([0, 1, 2, 255]));
      expect([...(await b.client.waitFor('binary'))]).toEqual([0, 1, 2, 255]);
    });
  });

  describe('message.send', () => {
    it('acks with a gap-free seq and delivers to the other members in order', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('ma'), identity: 'alice', room_id: roomId });
      const b = await pool.connect({ device_id: device('mb'), identity: 'bob', room_id: roomId });
      const acks = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? b : a).client.request('message.send', { room_id: roomId, kind: 'text', content: `m${i}` }),
        ),
      );
      expect(acks.map((x) => x.seq).sort((x, y) => x! - y!)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const toA = await a.client.collect('message', 10);
      const toB = await b.client.collect('message', 10);
      for (const got of [toA, toB]) {
        const seqs = got.map((m) => m.seq!);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
      expect(toA.every((m) => m.from.identity === 'bob')).toBe(true);
      expect(toA[0]).toMatchObject({ room_id: roomId, kind: 'text', from: { identity: 'bob' } });
      const rows = await eventually(
        () => stored('SELECT COUNT(*) AS n FROM messages WHERE room_id = ?', [roomId]),
        (r) => Number(r[0].n) === 20,
      );
      expect(Number(rows[0].n)).toBe(20);
    });

    it('treats a repeated id as the same send: same ack, delivered and stored once', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('ia'), identity: 'web', room_id: roomId });
      const b = await pool.connect({ device_id: device('ib'), identity: 'web', room_id: roomId });
      const first = await a.client.request(
        'message.send',
        { room_id: roomId, kind: 'text', content: 'once' },
        { id: 'send-1' },
      );
      const again = await a.client.request(
        'message.send',
        { room_id: roomId, kind: 'text', content: 'once' },
        { id: 'send-1' },
      );
      expect(again).toEqual(first);
      expect((await b.client.waitFor('message')).message_id).toBe(first.message_id);
      await expect(b.client.waitFor('message', undefined, 300)).rejects.toThrow();
      // Also across a reconnect of the sender.
      await a.client.close();
      const a2 = await pool.connect({
        device_id: a.handshake.connection.device_id,
        identity: 'web',
        room_id: roomId,
      });
      expect(
        await a2.client.request(
          'message.send',
          { room_id: roomId, kind: 'text', content: 'once' },
          { id: 'send-1' },
        ),
      ).toEqual(first);
      const rows = await eventually(
        () => stored('SELECT message_id FROM messages WHERE room_id = ?', [roomId]),
        (r) => r.length >= 1,
      );
      expect(rows.map((r) => r.message_id)).toEqual([first.message_id]);
    });

    it('refuses sends to a room the device is not in, and invalid content', async () => {
      const a = await pool.connect({ device_id: device('f'), identity: 'web' });
      await expect(
        a.client.request('message.send', { room_id: 'NOTMINE1', kind: 'text', content: 'x' }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
      const roomId = a.handshake.room.room_id;
      await expect(
        a.client.request('message.send', { room_id: roomId, kind: 'text', content: 42 }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(
        a.client.request('message.send', { room_id: roomId, kind: 'image', content: { name: 'no url' } }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(
        a.client.rawRequest('message.send', { room_id: roomId, kind: 'video', content: 'x' }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    });
  });

  describe('bad input', () => {
    it('answers bad frames with errors and keeps the connection and the room working', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('bad'), identity: 'web', room_id: roomId });
      const b = await pool.connect({ device_id: device('good'), identity: 'web', room_id: roomId });
      a.client.send('this is not json');
      expect(await a.client.waitFor('error')).toMatchObject({ code: 'BAD_REQUEST' });
      a.client.send('[1,2,3]');
      expect(await a.client.waitFor('error')).toMatchObject({ code: 'BAD_REQUEST' });
      await expect(a.client.rawRequest('no.such.type', {})).rejects.toMatchObject({ code: 'UNKNOWN_TYPE' });
      await expect(a.client.rawRequest('room.join', { room_id: 5 })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
      await expect(
        a.client.rawRequest('room.join', { room_id: 'ABCDEFGH', extra: true }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(a.client.rawRequest('ping', { unexpected: 1 })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
      a.client.send({ type: 'room.join', id: 'bad-data', data: 'not an object' });
      expect(await a.client.waitFor('error', (_d, e) => e.id === 'bad-data')).toMatchObject({
        code: 'BAD_REQUEST',
      });
      // Keys class-transformer would hide from the whitelist.
      for (const key of ['__proto__', 'constructor']) {
        a.client.send(`{"type":"room.join","id":"hidden-${key}","data":{"room_id":"ABCDEFGH","${key}":{}}}`);
        expect(await a.client.waitFor('error', (_d, e) => e.id === `hidden-${key}`)).toEqual({
          code: 'BAD_REQUEST',
          message: `property ${key} should not exist`,
        });
      }
      // Nesting past FRAME_MAX_DEPTH (16 here) is refused at the envelope, before the DTO
      // transform, which recurses per level (10,000 levels overflowed its stack: INTERNAL).
      // Frame, data and content use 3 of the 16 levels.
      const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
      for (const [id, levels] of [
        ['deep', 1500],
        ['deep-17', 14],
      ] as const) {
        a.client.send(
          `{"type":"message.send","id":"${id}","data":{"room_id":"${roomId}","kind":"custom","content":{"a":${nested(levels)}}}}`,
        );
        expect(await a.client.waitFor('error', (_d, e) => e.id === id)).toEqual({
          code: 'BAD_REQUEST',
          message: 'frame nests deeper than 16 levels (FRAME_MAX_DEPTH)',
        });
      }
      const at16 = await a.client.request('message.send', {
        room_id: roomId,
        kind: 'custom',
        content: { a: JSON.parse(nested(13)) as unknown },
      });
      expect((await b.client.waitFor('message')).message_id).toBe(at16.message_id);
      expect(a.client.isOpen).toBe(true);
      const ack = await a.client.request('message.send', { room_id: roomId, kind: 'text', content: 'fine' });
      expect((await b.client.waitFor('message')).message_id).toBe(ack.message_id);
    });

    it('answers a text frame that is not UTF-8 with BAD_REQUEST, not a close (4400 before hello)', async () => {
      const notUtf8 = Buffer.concat([
        Buffer.from('{"type":"ping","id":"'),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('"}'),
      ]);
      const raw = new WebSocket(server.wsUrl);
      const frames: Array<Record<string, unknown>> = [];
      raw.on('message', (data: Buffer) =>
        frames.push(JSON.parse(data.toString()) as Record<string, unknown>),
      );
      await new Promise((resolve) => raw.once('open', resolve));
      raw.send(JSON.stringify({ type: 'hello', data: { device_id: device('utf8'), identity: 'web' } }));
      await eventually(async () => frames.some((f) => f.type === 'offline_done'), Boolean);
      raw.send(notUtf8, { binary: false });
      raw.send(JSON.stringify({ type: 'ping', id: 'after' }));
      await eventually(async () => frames.some((f) => f.type === 'pong'), Boolean);
      expect(frames.filter((f) => f.type === 'error')).toEqual([
        { type: 'error', error: { code: 'BAD_REQUEST', message: 'frame is not valid UTF-8' } },
      ]);
      expect(raw.readyState).toBe(WebSocket.OPEN);
      raw.close();

      const early = new WebSocket(server.wsUrl);
      await new Promise((resolve) => early.once('open', resolve));
      early.send(notUtf8, { binary: false });
      const code = await new Promise<number>((resolve) => early.once('close', (c: number) => resolve(c)));
      expect(code).toBe(4400);
    });

    it('closes a frame over MAX_PAYLOAD_BYTES with 1009, and only that connection', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('big'), identity: 'web', room_id: roomId });
      const b = await pool.connect({ device_id: device('small'), identity: 'web', room_id: roomId });
      a.client.send({ type: 'text', content: 'x'.repeat(5000) });
      expect((await a.client.closed).code).toBe(1009);
      expect(await b.client.ping()).toHaveProperty('ts');
    });
  });

  describe('heartbeat', () => {
    it('answers an application ping with pong', async () => {
      const a = await pool.connect({ device_id: device('p'), identity: 'web' });
      const pong = await a.client.ping();
      expect(Math.abs(pong.ts - Date.now())).toBeLessThan(5000);
    });

    it('cuts off a connection that stops answering pings, and tells its room', async () => {
      const roomId = room();
      const watcher = await pool.connect({ device_id: device('hw'), identity: 'web', room_id: roomId });
      const deadId = device('dead');
      // A client that never answers the server's pings.
      const silent = new WebSocket(server.wsUrl, { autoPong: false });
      await new Promise((r) => silent.once('open', r));
      silent.send(
        JSON.stringify({
          type: 'hello',
          id: 'h',
          data: { device_id: deadId, identity: 'web', room_id: roomId },
        }),
      );
      expect(await watcher.client.waitFor('presence.join')).toMatchObject({ device_id: deadId });
      const left = await watcher.client.waitFor('presence.leave', undefined, 3000);
      expect(left).toMatchObject({ device_id: deadId });
      await eventually(
        () => stored('SELECT disconnected_at, close_code FROM connections WHERE device_id = ?', [deadId]),
        (rows) => rows.length === 1 && rows[0].disconnected_at !== null,
      );
      silent.terminate();
    });

    it('records connections with ip and disconnect time', async () => {
      const id = device('rec');
      const a = await pool.connect({ device_id: id, identity: 'web' });
      await a.client.close();
      const rows = await eventually(
        () =>
          stored(
            'SELECT client_ip, connected_at, disconnected_at, close_code FROM connections WHERE device_id = ?',
            [id],
          ),
        (r) => r.length === 1 && r[0].disconnected_at !== null,
      );
      expect(String(rows[0].client_ip)).toMatch(/127\.0\.0\.1/);
      expect(Number(rows[0].close_code)).toBe(1000);
    });
  });

  it('refuses connections to anything but /ws', async () => {
    await expect(
      RoomcastClient.open(server.wsUrl.replace('/ws', '/other'), { connectTimeoutMs: 2000 }),
    ).rejects.toBeInstanceOf(RoomcastConnectError);
  });
});

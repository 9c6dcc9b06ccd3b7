import { RoomcastClient } from '#client';
import type { MessagePayload } from '#protocol';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientPool, eventually } from './support/clients.js';
import {
  ADMIN_TOKEN,
  startTestServer,
  testEnvironment,
  type TestEnvironment,
  type TestServer,
} from './support/app.js';
import { MODES } from './support/services.js';

describe.each(MODES)('messaging (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  let n = 0;
  const device = (name: string) => `${name}-${++n}`;
  const room = () => `MSG${String(++n).padStart(5, '0')}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env, { RECALL_WINDOW_MS: '1500' });
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  const rows = (sql: string, params: unknown[]) =>
    server.app.get(DataSource).query(sql, params) as Promise<Array<Record<string, unknown>>>;

  describe('direct messages', () => {
    it('delivers live to a connected device and keeps the conversation', async () => {
      const [aId, bId] = [device('dm-a'), device('dm-b')];
      const a = await pool.connect({ device_id: aId, identity: 'alice' });
      const b = await pool.connect({ device_id: bId, identity: 'bob' });
      const ack = await a.client.request('message.send', {
        to_device_id: bId,
        kind: 'text',
        content: 'psst',
      });
      expect(ack).toEqual({ message_id: expect.any(String), ts: expect.any(Number) });
      expect(ack).not.toHaveProperty('seq');
      expect(await b.client.waitFor('message')).toMatchObject({
        message_id: ack.message_id,
        to_device_id: bId,
        from: { device_id: aId, identity: 'alice' },
        kind: 'text',
        content: 'psst',
      });
      const reply = await b.client.request('message.send', {
        to_device_id: aId,
        kind: 'text',
        content: 'hi',
      });
      await eventually(
        () =>
          rows('SELECT message_id FROM messages WHERE conversation IS NOT NULL AND message_id IN (?, ?)', [
            ack.message_id,
            reply.message_id,
          ]),
        (r) => r.length === 2,
      );
      const page = await a.client.rawRequest<{ messages: MessagePayload[]; next_cursor: string | null }>(
        'history',
        { peer_device_id: bId, limit: 10 },
      );
      expect(page.messages.map((m) => m.content)).toEqual(['hi', 'psst']);
      expect(page.next_cursor).toBeNull();
    });

    it('keeps messages for an offline device and delivers them once, in order, at its next connect', async () => {
      const [aId, bId] = [device('off-a'), device('off-b')];
      const a = await pool.connect({ device_id: aId, identity: 'alice' });
      const acks = [];
      for (let i = 0; i < 5; i++)
        acks.push(
          await a.client.request('message.send', { to_device_id: bId, kind: 'text', content: `m${i}` }),
        );
      const b = await pool.connect({ device_id: bId, identity: 'bob' });
      expect(b.handshake.offlineCount).toBe(5);
      expect(
        b.handshake.offline.map((item) => [item.type, (item.data as MessagePayload).message_id]),
      ).toEqual(acks.map((x) => ['message', x.message_id]));
      expect(b.handshake.received.at(-1)).toBe('offline_done');
      // Once the client has them (ping answered), they are gone: a second connect gets none.
      await eventually(
        () => rows('SELECT COUNT(*) AS n FROM offline_items WHERE device_id = ?', [bId]),
        (r) => Number(r[0].n) === 0,
      );
      await b.client.close();
      const again = await pool.connect({ device_id: bId, identity: 'bob' });
      expect(again.handshake.offlineCount).toBe(0);
    });

    it('is idempotent on the client id', async () => {
      const [aId, bId] = [device('idem-a'), device('idem-b')];
      const a = await pool.connect({ device_id: aId, identity: 'alice' });
      const first = await a.client.request(
        'message.send',
        { to_device_id: bId, kind: 'text', content: 'once' },
        { id: 'dm-1' },
      );
      expect(
        await a.client.request(
          'message.send',
          { to_device_id: bId, kind: 'text', content: 'once' },
          { id: 'dm-1' },
        ),
      ).toEqual(first);
      const b = await pool.connect({ device_id: bId, identity: 'bob' });
      expect(b.handshake.offlineCount).toBe(1);
    });

    it('refuses a send naming both a room and a device, or neither', async () => {
      const a = await pool.connect({ device_id: device('both'), identity: 'x' });
      await expect(
        a.client.rawRequest('message.send', {
          room_id: a.handshake.room.room_id,
          to_device_id: 'x',
          kind: 'text',
          content: 'y',
        }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(a.client.rawRequest('message.send', { kind: 'text', content: 'y' })).rejects.toMatchObject(
        { code: 'BAD_REQUEST' },
      );
    });
  });

  describe('resume', () => {
    it('replays exactly the 500 messages a client missed, in order, once, then resumed', async () => {
      const roomId = room();
      const sender = await pool.connect({ device_id: device('rs'), identity: 'sender', room_id: roomId });
      const readerId = device('rr');
      const reader = await pool.connect({ device_id: readerId, identity: 'reader', room_id: roomId });
      await sender.client.request('message.send', { room_id: roomId, kind: 'text', content: 'before' });
      await reader.client.waitFor('message');
      const lastSeq = reader.client.lastSeq(roomId)!;
      await reader.client.close();
      const acks = [];
      for (let i = 0; i < 500; i += 50) {
        acks.push(
          ...(await Promise.all(
            Array.from({ length: 50 }, (_, j) =>
              sender.client.request('message.send', {
                room_id: roomId,
                kind: 'text',
                content: `missed ${i + j}`,
              }),
            ),
          )),
        );
      }
      const back = await pool.connect({
        device_id: readerId,
        identity: 'reader',
        resume: { [roomId]: lastSeq },
      });
      const seqs = back.handshake.replayed.map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => lastSeq + 1 + i));
      expect(new Set(back.handshake.replayed.map((m) => m.message_id))).toEqual(
        new Set(acks.map((a) => a.message_id)),
      );
      expect(back.handshake.resumed).toEqual([
        { room_id: roomId, from_seq: lastSeq + 1, to_seq: lastSeq + 500, complete: true },
      ]);
      // Live again afterwards, with nothing replayed twice.
      await sender.client.request('message.send', { room_id: roomId, kind: 'text', content: 'after' });
      expect((await back.client.waitFor('message')).seq).toBe(lastSeq + 501);
      await expect(back.client.waitFor('message', undefined, 300)).rejects.toThrow();
    });

    it('says complete: false when a missed message no longer exists anywhere', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('gap'), identity: 'x', room_id: roomId });
      for (let i = 0; i < 3; i++)
        await a.client.request('message.send', { room_id: roomId, kind: 'text', content: `g${i}` });
      await eventually(
        () => rows('SELECT COUNT(*) AS n FROM messages WHERE room_id = ?', [roomId]),
        (r) => Number(r[0].n) === 3,
      );
      // Retention (simulated): seq 2 is gone from the database; embedded mode keeps no other copy.
      await rows('DELETE FROM messages WHERE room_id = ? AND seq = 2', [roomId]);
      const b = await pool.connect({ device_id: device('gap-b'), identity: 'x', resume: { [roomId]: 0 } });
      const resumed = b.handshake.resumed[0];
      if (mode === 'embedded') {
        expect(b.handshake.replayed.map((m) => m.seq)).toEqual([1, 3]);
        expect(resumed).toMatchObject({ room_id: roomId, complete: false });
      } else {
        // Redis still has the recent ones in the room's log: nothing is missing.
        expect(b.handshake.replayed.map((m) => m.seq)).toEqual([1, 2, 3]);
        expect(resumed).toMatchObject({ room_id: roomId, complete: true });
      }
    });

    it('rejoins resumed rooms and refuses a malformed resume', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('rj'), identity: 'x', room_id: roomId });
      const id = device('rj-b');
      const b = await pool.connect({ device_id: id, identity: 'y', resume: { [roomId]: 0 } });
      expect(b.handshake.resumed).toEqual([{ room_id: roomId, from_seq: 1, to_seq: 0, complete: true }]);
      expect(await a.client.waitFor('presence.join', (d) => d.device_id === id)).toMatchObject({
        room_id: roomId,
      });
      const bad = await pool.open();
      await expect(
        bad.hello({ device_id: device('rj-c'), identity: 'z', resume: { [roomId]: -1 } }),
      ).rejects.toMatchObject({ closeCode: 4400 });
    });
  });

  describe('mentions', () => {
    it('tells a mentioned device outside the room live, and keeps it for an offline one', async () => {
      const roomId = room();
      const [outsideId, offlineId] = [device('men-out'), device('men-off')];
      const a = await pool.connect({ device_id: device('men-a'), identity: 'alice', room_id: roomId });
      const outside = await pool.connect({ device_id: outsideId, identity: 'o' });
      const ack = await a.client.request('message.send', {
        room_id: roomId,
        kind: 'text',
        content: '@both',
        mentions: [outsideId, offlineId],
      });
      expect(await outside.client.waitFor('mention')).toMatchObject({
        message_id: ack.message_id,
        room_id: roomId,
        mentions: [outsideId, offlineId],
      });
      const off = await pool.connect({ device_id: offlineId, identity: 'f' });
      expect(off.handshake.offline).toEqual([
        { type: 'mention', data: expect.objectContaining({ message_id: ack.message_id }) },
      ]);
    });
  });

  describe('recall', () => {
    it('lets the sender recall within the window: everyone in the room is told, history shows it recalled', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('rc-a'), identity: 'alice', room_id: roomId });
      const b = await pool.connect({ device_id: device('rc-b'), identity: 'bob', room_id: roomId });
      const ack = await a.client.request('message.send', { room_id: roomId, kind: 'text', content: 'oops' });
      await b.client.waitFor('message');
      await expect(
        b.client.rawRequest('message.recall', { message_id: ack.message_id }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(await a.client.rawRequest('message.recall', { message_id: ack.message_id })).toEqual({
        ok: true,
      });
      expect(await b.client.waitFor('message.recalled')).toEqual({
        message_id: ack.message_id,
        room_id: roomId,
        by: a.handshake.connection.device_id,
      });
      await eventually(
        () => b.client.rawRequest<{ messages: MessagePayload[] }>('history', { room_id: roomId, limit: 10 }),
        (page) => page.messages[0]?.recalled === true,
      );
      const [recalled] = (
        await b.client.rawRequest<{ messages: MessagePayload[] }>('history', { room_id: roomId, limit: 10 })
      ).messages;
      expect(recalled).toMatchObject({
        message_id: ack.message_id,
        seq: ack.seq,
        recalled: true,
        content: null,
      });
      await expect(
        a.client.rawRequest('message.recall', { message_id: 'no-such-message' }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('lets an operator recall any message over the admin API, after the window too', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('adm-a'), identity: 'x', room_id: roomId });
      const b = await pool.connect({ device_id: device('adm-b'), identity: 'y', room_id: roomId });
      const ack = await a.client.request('message.send', {
        room_id: roomId,
        kind: 'text',
        content: 'moderate me',
      });
      await new Promise((r) => setTimeout(r, 1600));
      const res = await fetch(`${server.url}/api/messages/${ack.message_id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
      expect(await b.client.waitFor('message.recalled')).toEqual({
        message_id: ack.message_id,
        room_id: roomId,
        by: 'admin',
      });
      const missing = await fetch(`${server.url}/api/messages/nope`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(missing.status).toBe(404);
    });

    it('refuses a recall after RECALL_WINDOW_MS', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('late'), identity: 'x', room_id: roomId });
      const ack = await a.client.request('message.send', {
        room_id: roomId,
        kind: 'text',
        content: 'too late',
      });
      await new Promise((r) => setTimeout(r, 1700));
      await expect(
        a.client.rawRequest('message.recall', { message_id: ack.message_id }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    });

    it('takes a recalled direct message out of an offline recipient inbox', async () => {
      const [aId, bId] = [device('rdm-a'), device('rdm-b')];
      const a = await pool.connect({ device_id: aId, identity: 'alice' });
      const ack = await a.client.request('message.send', {
        to_device_id: bId,
        kind: 'text',
        content: 'unsend me',
      });
      await a.client.rawRequest('message.recall', { message_id: ack.message_id });
      const b = await pool.connect({ device_id: bId, identity: 'bob' });
      expect(b.handshake.offlineCount).toBe(0);
    });
  });

  describe('history', () => {
    it('pages a room both ways by seq', async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('h'), identity: 'x', room_id: roomId });
      for (let i = 1; i <= 7; i++)
        await a.client.request('message.send', { room_id: roomId, kind: 'text', content: `h${i}` });
      type Page = { messages: MessagePayload[]; next_cursor: number | null };
      const newest = await a.client.rawRequest<Page & { unread: number }>('history', {
        room_id: roomId,
        limit: 3,
      });
      expect(newest.messages.map((m) => m.seq)).toEqual([7, 6, 5]);
      expect(newest.unread).toBe(7);
      await a.client.rawRequest('message.read', { room_id: roomId, up_to_seq: 5 });
      expect(
        (await a.client.rawRequest<{ unread: number }>('history', { room_id: roomId, limit: 1 })).unread,
      ).toBe(2);
      const older = await a.client.rawRequest<Page>('history', {
        room_id: roomId,
        limit: 3,
        before_seq: newest.next_cursor,
      });
      expect(older.messages.map((m) => m.seq)).toEqual([4, 3, 2]);
      const oldest = await a.client.rawRequest<Page>('history', {
        room_id: roomId,
        limit: 3,
        before_seq: older.next_cursor,
      });
      expect(oldest).toMatchObject({ next_cursor: null });
      expect(oldest.messages.map((m) => m.seq)).toEqual([1]);
      const forward = await a.client.rawRequest<Page>('history', { room_id: roomId, limit: 4, order: 'asc' });
      expect(forward.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      const rest = await a.client.rawRequest<Page>('history', {
        room_id: roomId,
        limit: 4,
        after_seq: forward.next_cursor,
      });
      expect(rest.messages.map((m) => m.seq)).toEqual([5, 6, 7]);
      await expect(a.client.rawRequest('history', { room_id: roomId, limit: 101 })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
      const outsider = await pool.connect({ device_id: device('h-out'), identity: 'x' });
      await expect(
        outsider.client.rawRequest('history', { room_id: roomId, limit: 5 }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    });

    it('pages a direct conversation both ways by message id', async () => {
      const [aId, bId] = [device('hc-a'), device('hc-b')];
      const a = await pool.connect({ device_id: aId, identity: 'alice' });
      const acks = [];
      for (let i = 1; i <= 5; i++)
        acks.push(
          await a.client.request('message.send', { to_device_id: bId, kind: 'text', content: `c${i}` }),
        );
      await eventually(
        () =>
          rows('SELECT COUNT(*) AS n FROM messages WHERE conversation IS NOT NULL AND from_device_id = ?', [
            aId,
          ]),
        (r) => Number(r[0].n) === 5,
      );
      type Page = { messages: MessagePayload[]; next_cursor: string | null };
      const b = await pool.connect({ device_id: bId, identity: 'bob' });
      const first = await b.client.rawRequest<Page>('history', { peer_device_id: aId, limit: 2 });
      expect(first.messages.map((m) => m.content)).toEqual(['c5', 'c4']);
      const second = await b.client.rawRequest<Page>('history', {
        peer_device_id: aId,
        limit: 2,
        before: first.next_cursor,
      });
      expect(second.messages.map((m) => m.content)).toEqual(['c3', 'c2']);
      const asc = await b.client.rawRequest<Page>('history', {
        peer_device_id: aId,
        limit: 10,
        order: 'asc',
      });
      expect(asc.messages.map((m) => m.message_id)).toEqual(acks.map((x) => x.message_id));
    });
  });

  it('answers presence with the room members', async () => {
    const roomId = room();
    const a = await pool.connect({ device_id: device('p-a'), identity: 'alice', room_id: roomId });
    await pool.connect({ device_id: device('p-b'), identity: 'bob', room_id: roomId });
    const answer = await a.client.rawRequest<{ members: Array<{ device_id: string; online: boolean }> }>(
      'presence',
      { room_id: roomId },
    );
    expect(answer.members).toHaveLength(2);
    expect(answer.members.every((m) => m.online)).toBe(true);
  });

  // Last: it restarts the server with a short IDEMPOTENCY_TTL_MS, and at the end as it was.
  it('answers a repeated client id with the first ack across a restart, until IDEMPOTENCY_TTL_MS', async () => {
    const aId = device('again');
    const roomId = room();
    const send = (client: RoomcastClient, id: string) =>
      client.request('message.send', { room_id: roomId, kind: 'text', content: id }, { id });
    const storedAs = async (id: string) =>
      Number(
        (
          await rows('SELECT COUNT(*) AS n FROM messages WHERE from_device_id = ? AND client_msg_id = ?', [
            aId,
            id,
          ])
        )[0].n,
      );
    const restart = async (settings: Record<string, string>) => {
      await pool.closeAll();
      await server.stop();
      server = await startTestServer(env, { RECALL_WINDOW_MS: '1500', ...settings });
      pool = new ClientPool(server.wsUrl);
      return (await pool.connect({ device_id: aId, identity: 'alice', room_id: roomId })).client;
    };
    const ttl = { IDEMPOTENCY_TTL_MS: '3000' };
    const first = await send(await restart(ttl), 'r-1');
    await eventually(
      () => storedAs('r-1'),
      (n) => n === 1,
    );

    const client = await restart(ttl);
    expect(await send(client, 'r-1')).toEqual(first);
    // A later send is stored after anything the repeat could have queued: r-1 is still one row.
    const later = await send(client, 'r-2');
    await eventually(
      () => storedAs('r-2'),
      (n) => n === 1,
    );
    expect(await storedAs('r-1')).toBe(1);

    await new Promise((resolve) => setTimeout(resolve, first.ts + 3000 + 100 - Date.now()));
    const anew = await send(client, 'r-1');
    expect(anew.message_id).not.toBe(first.message_id);
    expect(anew.seq).toBe(later.seq! + 1);
    await restart({});
  });
});

describe.runIf(MODES.includes('mysql+redis'))('resume of messages not yet in MySQL (mysql+redis)', () => {
  it('replays from the room log what the queue has not written yet', async () => {
    const env = await testEnvironment('mysql+redis');
    // A gateway without workers: nothing reaches MySQL, everything acked sits in Redis.
    const server = await startTestServer(env, { ROLE: 'gateway' });
    try {
      const roomId = 'QUEUED01';
      const { client: sender } = await RoomcastClient.connect(server.wsUrl, {
        device_id: 'q-sender',
        identity: 's',
        room_id: roomId,
      });
      for (let i = 0; i < 100; i++)
        await sender.request('message.send', { room_id: roomId, kind: 'text', content: `q${i}` });
      const stored = await server.app
        .get(DataSource)
        .query('SELECT COUNT(*) AS n FROM messages WHERE room_id = ?', [roomId]);
      expect(Number(stored[0].n)).toBe(0);
      const { client, handshake } = await RoomcastClient.connect(server.wsUrl, {
        device_id: 'q-reader',
        identity: 'r',
        resume: { [roomId]: 0 },
      });
      expect(handshake.replayed.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(handshake.resumed[0]).toMatchObject({ complete: true, to_seq: 100 });
      await Promise.all([sender.close(), client.close()]);
    } finally {
      await server.stop();
      await env.dispose();
    }
  });
});

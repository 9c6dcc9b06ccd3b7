import { ReconnectingClient, type LifecycleEventMap } from '#client';
import type { MessagePayload, MessageSendAck } from '#protocol';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionRegistry } from '../src/gateway/connection-registry.js';
import { ClientPool, eventually } from './support/clients.js';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { MODES } from './support/services.js';

/**
 * ReconnectingClient (libs/client) against the real server: a connection cut from the server side
 * (`socket.terminate()`, a network drop as the client sees it: close 1006) while requests are in
 * flight loses nothing and duplicates nothing.
 */
describe.each(MODES)('reconnecting client against the real server (%s)', (mode) => {
  const TOTAL = 200;
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  const reconnecting: ReconnectingClient[] = [];

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env);
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await Promise.all(reconnecting.splice(0).map((c) => c.close()));
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  const connectReconnecting = async (deviceId: string, roomId: string) => {
    const client = await ReconnectingClient.connect(
      server.wsUrl,
      { device_id: deviceId, identity: deviceId, room_id: roomId },
      { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 20 },
    );
    reconnecting.push(client);
    return client;
  };

  /** A network drop as the client sees it: the server destroys the TCP connection. */
  const cut = (deviceId: string) => {
    const conn = server.app.get(ConnectionRegistry).device(deviceId);
    expect(conn, `a live connection of ${deviceId}`).toBeDefined();
    conn!.socket.terminate();
  };

  const storedCount = async (roomId: string) => {
    const [row] = (await server.app
      .get(DataSource)
      .query('SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS d FROM messages WHERE room_id = ?', [
        roomId,
      ])) as Array<{ n: number | string; d: number | string }>;
    return { n: Number(row.n), distinct: Number(row.d) };
  };

  const record = <K extends keyof LifecycleEventMap>(c: ReconnectingClient, type: K) => {
    const seen: Array<LifecycleEventMap[K]> = [];
    c.on(type, (d) => seen.push(d as LifecycleEventMap[K]));
    return seen;
  };

  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it('a client that sends 200 messages through a connection that is killed and re-opened halfway ends with exactly 200 stored and delivered, none twice', async () => {
    const roomId = 'RECONSND';
    const receiver = await pool.connect({ device_id: 'plain-receiver', identity: 'r', room_id: roomId });
    const received: MessagePayload[] = [];
    receiver.client.on('message', (m) => received.push(m));

    const sender = await connectReconnecting('reconnecting-sender', roomId);
    const disconnects = record(sender, 'disconnected');
    const opens = record(sender, 'open');

    // All 200 sends are pipelined; when the 100th ack arrives the rest are in flight (written,
    // unanswered, partly still queued on the server) and the connection is cut.
    let acked = 0;
    const sends = range(0, TOTAL - 1).map((i) =>
      sender
        .request('message.send', { room_id: roomId, kind: 'text', content: `msg-${i}` })
        .then((ack: MessageSendAck) => {
          if (++acked === TOTAL / 2) cut('reconnecting-sender');
          return ack;
        }),
    );
    const acks = await Promise.all(sends);

    // The sender: one drop (1006), one reconnect, the unanswered sends resent with their ids.
    expect(disconnects.map((d) => d.code)).toEqual([1006]);
    expect(opens.map((o) => o.reconnected)).toEqual([true]);
    expect(sender.stats.resent).toBeGreaterThan(0);
    expect(new Set(acks.map((a) => a.message_id)).size).toBe(TOTAL);
    expect(acks.map((a) => a.seq).sort((a, b) => a! - b!)).toEqual(range(1, TOTAL));

    // The other member: 200 distinct messages, seq 1..200 in order, each content once.
    await eventually(
      async () => received.length,
      (n) => n >= TOTAL,
    );
    await new Promise((r) => setTimeout(r, 300)); // nothing more may come
    expect(received).toHaveLength(TOTAL);
    expect(new Set(received.map((m) => m.message_id)).size).toBe(TOTAL);
    expect(received.map((m) => m.seq)).toEqual(range(1, TOTAL));
    expect(received.map((m) => m.content as string).sort()).toEqual(
      range(0, TOTAL - 1)
        .map((i) => `msg-${i}`)
        .sort(),
    );
    expect(new Set(received.map((m) => m.message_id))).toEqual(new Set(acks.map((a) => a.message_id)));

    // The database: exactly 200 rows for the room (persistence may be asynchronous).
    await eventually(
      () => storedCount(roomId),
      (c) => c.n >= TOTAL,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(await storedCount(roomId)).toEqual({ n: TOTAL, distinct: TOTAL });
  });

  // The receiver side needs the server's resume (hello.resume replay + `resumed`, docs/protocol.md
  // "Handshake"), and `history` for what a replay could not include.
  it('a reconnecting receiver whose connection is killed halfway receives all 200 messages once, in seq order (hello.resume)', async () => {
    const roomId = 'RECONRCV';
    const receiver = await connectReconnecting('reconnecting-receiver', roomId);
    const seen: number[] = [];
    const gaps = record(receiver, 'gap');
    receiver.on('message', (m) => {
      seen.push(m.seq!);
      if (seen.length === TOTAL / 2) cut('reconnecting-receiver');
    });
    const resumed: number[] = [];
    receiver.on('resumed', (r) => resumed.push(r.from_seq));

    const sender = await pool.connect({ device_id: 'plain-sender', identity: 's', room_id: roomId });
    for (const batch of [range(0, 99), range(100, 199)]) {
      await Promise.all(
        batch.map((i) =>
          sender.client.request('message.send', { room_id: roomId, kind: 'text', content: `msg-${i}` }),
        ),
      );
    }

    await eventually(
      async () => seen.length,
      (n) => n >= TOTAL,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(range(1, TOTAL));
    expect(gaps).toEqual([]);
    expect(receiver.stats.connects).toBe(2);
    expect(resumed.length).toBe(1);
  });

  it('a room joined with room.join is resumed and joined again after the cut, with no message lost or repeated', async () => {
    const roomId = 'RECONJN1';
    const receiver = await connectReconnecting('rejoin-receiver', 'RECONPRI');
    await receiver.request('room.join', { room_id: roomId });
    expect(receiver.rooms).toEqual(['RECONPRI', roomId]);
    const seen: number[] = [];
    const gaps = record(receiver, 'gap');
    const rejoinFailures = record(receiver, 'rejoin_failed');
    receiver.on('message', (m) => {
      if (m.room_id !== roomId) return;
      seen.push(m.seq!);
      if (seen.length === TOTAL / 2) cut('rejoin-receiver');
    });

    const sender = await pool.connect({ device_id: 'plain-sender-2', identity: 's', room_id: roomId });
    for (const batch of [range(0, 99), range(100, 199)]) {
      await Promise.all(
        batch.map((i) =>
          sender.client.request('message.send', { room_id: roomId, kind: 'text', content: `msg-${i}` }),
        ),
      );
    }

    await eventually(
      async () => seen.length,
      (n) => n >= TOTAL,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(range(1, TOTAL));
    expect(gaps).toEqual([]);
    expect(rejoinFailures).toEqual([]);
    expect(receiver.stats.connects).toBe(2);
    expect(receiver.rooms).toEqual(['RECONPRI', roomId]);
    // Still a member after the reconnect: the next message arrives live.
    const ack = await sender.client.request('message.send', {
      room_id: roomId,
      kind: 'text',
      content: 'after',
    });
    await expect(receiver.waitFor('message', (m) => m.seq === ack.seq)).resolves.toMatchObject({
      content: 'after',
    });
  });
});

import { RoomcastClient } from '#client';
import type { MessagePayload } from '#protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { ClientPool, eventually } from './support/clients.js';
import { MODES } from './support/services.js';

const LIMITS = {
  RATE_SEND_PER_SEC: '2',
  RATE_SEND_BURST: '0',
  RATE_REQUESTS_PER_SEC: '5',
  RATE_REQUESTS_BURST: '0',
  RATE_ROOM_MSGS_PER_SEC: '3',
  RATE_ABUSE_STRIKES: '5',
  RATE_ADMIN_PER_SEC: '3',
};

const settled = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: { code?: string; retryAfterMs?: number; message?: string }) => ({ ok: false as const, error }),
  );

describe.each(MODES)('rate limits (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  let n = 0;
  const device = (name: string) => `${name}-${++n}`;
  const room = () => `RATE${String(++n).padStart(4, '0')}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env, LIMITS);
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  const join = async (roomId: string, name: string) =>
    (await pool.connect({ device_id: device(name), identity: name, room_id: roomId })).client;

  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('refuses message.send over RATE_SEND_PER_SEC with retry_after_ms, taking no seq and storing nothing', async () => {
    const roomId = room();
    const [ann, bob] = [await join(roomId, 'ann'), await join(roomId, 'bob')];
    const results = await Promise.all(
      ['s1', 's2', 's3'].map((id) =>
        settled(
          ann.rawRequest<{ seq: number }>(
            'message.send',
            { room_id: roomId, kind: 'text', content: id },
            { id },
          ),
        ),
      ),
    );
    expect(results.slice(0, 2).map((r) => r.ok && r.value.seq)).toEqual([1, 2]);
    const refused = results[2];
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.code).toBe('RATE_LIMITED');
    expect(refused.error.retryAfterMs).toBeGreaterThan(0);
    expect(refused.error.retryAfterMs).toBeLessThanOrEqual(1000);
    // Nothing of the refused message exists: not delivered, no seq, not in the history.
    await ann.ping();
    const history = await bob.rawRequest<{ messages: MessagePayload[] }>('history', {
      room_id: roomId,
      limit: 10,
    });
    expect(history.messages.map((m) => m.content)).toEqual(['s2', 's1']);
    expect(bob.drain('message').map((e) => (e.data as MessagePayload).content)).toEqual(['s1', 's2']);
    // Its id was not remembered as done: once the window has passed, the same id goes through.
    await new Promise((r) => setTimeout(r, refused.error.retryAfterMs));
    const retried = await ann.rawRequest<{ seq: number }>(
      'message.send',
      { room_id: roomId, kind: 'text', content: 's3' },
      { id: 's3' },
    );
    expect(retried.seq).toBe(3);
    expect(await metric('roomcast_rate_limited_total', 'bucket="send"')).toBeGreaterThanOrEqual(1);
  });

  it('counts relayed frames as sends, per device, apart from other requests', async () => {
    const roomId = room();
    const [ann, bob] = [await join(roomId, 'ann'), await join(roomId, 'bob')];
    for (let i = 0; i < 3; i++) ann.send({ n: i });
    const error = await ann.waitFor('error');
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) });
    // Other requests have their own allowance, and another device its own.
    await expect(ann.rawRequest('presence', { room_id: roomId })).resolves.toBeDefined();
    await expect(
      bob.rawRequest('message.send', { room_id: roomId, kind: 'text', content: 'hi' }),
    ).resolves.toMatchObject({ seq: 3 });
  });

  it('limits the messages into one room from all its members together (RATE_ROOM_MSGS_PER_SEC)', async () => {
    const roomId = room();
    const [ann, bob] = [await join(roomId, 'ann'), await join(roomId, 'bob')];
    const send = (c: RoomcastClient, content: string) =>
      settled(c.rawRequest('message.send', { room_id: roomId, kind: 'text', content }));
    const results = [
      await send(ann, 'a1'),
      await send(ann, 'a2'),
      await send(bob, 'b1'),
      await send(bob, 'b2'),
    ];
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
    expect(results[3].ok || results[3].error.message).toMatch(/room/);
    expect((await bob.request('room.join', { room_id: roomId })).last_seq).toBe(3);
  });

  it('closes a connection that keeps going past its limits with 4429 (RATE_ABUSE_STRIKES)', async () => {
    const roomId = room();
    const [ann, bob] = [await join(roomId, 'ann'), await join(roomId, 'bob')];
    // 5 requests allowed, then more than 5 refusals.
    for (let i = 0; i < 12; i++) ann.send({ type: 'ping', id: `p${i}` });
    expect((await ann.closed).code).toBe(4429);
    // Nobody else is affected.
    await expect(bob.ping()).resolves.toBeDefined();
  });

  it('limits the admin API per address before checking the token: 429 with Retry-After', async () => {
    const call = () =>
      fetch(`${server.url}/api/stats`, { headers: { authorization: 'Bearer not-the-token' } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await call());
    expect(statuses.map((r) => r.status)).toEqual([401, 401, 401, 429]);
    const refused = statuses[3];
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(await metric('roomcast_rate_limited_total', 'bucket="admin"')).toBeGreaterThanOrEqual(1);
  });

  describe('new connections per address (RATE_CONNECT_PER_SEC)', () => {
    let limited: TestServer;
    const opened: RoomcastClient[] = [];

    beforeAll(async () => {
      limited = await startTestServer(env, { RATE_CONNECT_PER_SEC: '2', TRUST_PROXY: 'true' });
    });

    afterAll(async () => {
      await Promise.all(opened.map((c) => c.close()));
      await limited?.stop();
    });

    const connectFrom = async (ip: string) => {
      const { client } = await RoomcastClient.connect(
        limited.wsUrl,
        { device_id: device('ip'), identity: 'ip' },
        { headers: { 'x-forwarded-for': ip } },
      );
      opened.push(client);
      return client;
    };

    it('refuses the connection past the limit with RATE_LIMITED and close 4429; other addresses connect', async () => {
      await connectFrom('203.0.113.7');
      await connectFrom('203.0.113.7');
      // Refused as soon as the socket opens, before any hello: an error frame, then 4429.
      const third = await RoomcastClient.open(limited.wsUrl, {
        headers: { 'x-forwarded-for': '203.0.113.7' },
      });
      expect((await third.closed).code).toBe(4429);
      expect(third.drain('error').map((e) => e.data)).toEqual([
        expect.objectContaining({ code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) }),
      ]);
      await expect(connectFrom('203.0.113.8')).resolves.toBeDefined();
      await eventually(
        async () => (await (await fetch(`${limited.url}/metrics`)).text()).includes('bucket="connect"'),
        Boolean,
      );
    });
  });
});

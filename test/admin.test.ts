import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  startTestServer,
  testEnvironment,
  type TestEnvironment,
  type TestServer,
} from './support/app.js';
import { ClientPool, eventually } from './support/clients.js';
import { recordRefusedConnection } from './support/jobs.js';
import { MODES } from './support/services.js';

interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP call to the server; `token: null` sends no Authorization header. */
async function call<T = any>(
  server: TestServer,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string | null; authorization?: string } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  else if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

/** Every admin route, with a body that would be valid: the guard must refuse each before anything else. */
const ADMIN_ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/api/stats'],
  ['GET', '/api/rooms'],
  ['POST', '/api/rooms', { room_id: 'AUTH0001' }],
  ['GET', '/api/rooms/AUTH0001'],
  ['DELETE', '/api/rooms/AUTH0001'],
  ['GET', '/api/rooms/AUTH0001/messages'],
  ['GET', '/api/clients'],
  ['DELETE', '/api/clients/d1'],
  ['GET', '/api/devices/d1/connections'],
  ['GET', '/api/devices/d1/unread'],
  ['POST', '/api/broadcast', { payload: { text: 'x' } }],
  ['POST', '/api/notifications', { device_ids: ['d1'], payload: 1 }],
  ['DELETE', '/api/messages/m1'],
  ['GET', '/api/queues'],
  ['GET', '/api/queues/messages/failed'],
  ['POST', '/api/queues/messages/retry-failed'],
];

describe.each(MODES)('admin API over HTTP (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  let n = 0;
  const device = (name: string) => `${name}-${++n}`;
  const room = () => `ADM${String(++n).padStart(5, '0')}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    // Two attempts, so a failing job is dead-lettered quickly.
    server = await startTestServer(env, { JOB_ATTEMPTS: '2' });
    pool = new ClientPool(server.wsUrl);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  describe('authentication', () => {
    it('refuses every route without a token (401, WWW-Authenticate)', async () => {
      for (const [method, path, body] of ADMIN_ROUTES) {
        const res = await call(server, method, path, { body, token: null });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      }
      // Nothing was done: the room of the POST does not exist.
      expect((await call(server, 'GET', '/api/rooms/AUTH0001')).status).toBe(404);
    });

    it('refuses a wrong token and a malformed Authorization header', async () => {
      for (const [method, path, body] of ADMIN_ROUTES) {
        const res = await call(server, method, path, { body, token: 'not-the-admin-token' });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.body).toMatchObject({ code: 'UNAUTHORIZED', message: 'invalid admin token' });
      }
      for (const authorization of [
        `Basic ${ADMIN_TOKEN}`,
        ADMIN_TOKEN,
        'Bearer',
        `Bearer ${ADMIN_TOKEN}x`,
        `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
      ]) {
        expect((await call(server, 'GET', '/api/stats', { authorization })).status, authorization).toBe(401);
      }
    });

    it('accepts the token with any case of "Bearer"', async () => {
      expect(
        (await call(server, 'GET', '/api/stats', { authorization: `bearer ${ADMIN_TOKEN}` })).status,
      ).toBe(200);
    });

    it('refuses every call when ADMIN_TOKEN is unset, saying the admin API is disabled', async () => {
      // An empty variable counts as unset.
      const disabled = await startTestServer(env, { ADMIN_TOKEN: '' });
      try {
        expect(disabled.config.ADMIN_TOKEN).toBeUndefined();
        for (const [method, path, body] of ADMIN_ROUTES) {
          for (const token of [ADMIN_TOKEN, null]) {
            const res = await call(disabled, method, path, { body, token });
            expect(res.status, `${method} ${path}`).toBe(403);
            expect(res.body).toMatchObject({ code: 'FORBIDDEN' });
            expect(res.body.message).toMatch(/admin API is disabled/);
          }
        }
        // The probes stay open.
        expect((await call(disabled, 'GET', '/health/live', { token: null })).status).toBe(200);
      } finally {
        await disabled.stop();
      }
    });
  });

  describe('stats', () => {
    it('describes the node', async () => {
      const res = await call(server, 'GET', '/api/stats');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        node_id: server.config.NODE_ID,
        mode: mode === 'embedded' ? 'embedded' : 'redis',
        role: 'all',
        connections: expect.any(Number),
        rooms: expect.any(Number),
        messages_per_min: expect.any(Number),
      });
      expect(res.body.uptime_s).toBeGreaterThanOrEqual(0);
      expect(res.body.memory.rss_bytes).toBeGreaterThan(0);
      expect(res.body.memory.heap_used_bytes).toBeGreaterThan(0);
      expect(res.body.queues.map((q: { name: string }) => q.name).sort()).toEqual([
        'audit',
        'inbox',
        'messages',
      ]);
      for (const q of res.body.queues) {
        for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed'])
          expect(q[state]).toEqual(expect.any(Number));
      }
    });
  });

  describe('rooms', () => {
    it('creates a room (201), refuses its id again (409) and generates an id when none is given', async () => {
      const id = room();
      const created = await call(server, 'POST', '/api/rooms', {
        body: { room_id: id, name: 'Lobby', max_clients: 10 },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        room_id: id,
        name: 'Lobby',
        max_clients: 10,
        created_by: 'admin',
        total_clients: 0,
      });
      expect(new Date(created.body.created_at).getTime()).toBeGreaterThan(Date.now() - 60_000);

      const again = await call(server, 'POST', '/api/rooms', { body: { room_id: id } });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ statusCode: 409, code: 'CONFLICT' });

      const fresh = await call(server, 'POST', '/api/rooms', { body: {} });
      expect(fresh.status).toBe(201);
      expect(fresh.body.room_id).toMatch(/^[A-Z0-9]{8}$/);
      expect(fresh.body).toMatchObject({ name: null, max_clients: 0 });
    });

    it('validates the body (400 naming each problem, unknown fields refused)', async () => {
      const res = await call(server, 'POST', '/api/rooms', {
        body: { room_id: 'bad id!', max_clients: 0, colour: 'red' },
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('BAD_REQUEST');
      expect(res.body.details).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/room_id/),
          expect.stringMatching(/max_clients/),
          expect.stringMatching(/colour/),
        ]),
      );
      expect((await call(server, 'GET', '/api/rooms?limit=0')).status).toBe(400);
      expect((await call(server, 'GET', '/api/rooms/not%20an%20id')).status).toBe(400);
    });

    it('lists rooms with total_clients, paginated', async () => {
      const id = room();
      await call(server, 'POST', '/api/rooms', { body: { room_id: id } });
      const all = await call(server, 'GET', '/api/rooms?limit=1000');
      expect(all.status).toBe(200);
      expect(all.body.total).toBe(all.body.rooms.length);
      expect(all.body.rooms).toContainEqual(expect.objectContaining({ room_id: id, total_clients: 0 }));
      const first = await call(server, 'GET', '/api/rooms?limit=1&offset=0');
      const second = await call(server, 'GET', '/api/rooms?limit=1&offset=1');
      expect(first.body.rooms).toHaveLength(1);
      expect(second.body.rooms).toHaveLength(1);
      expect(first.body.rooms[0].room_id).toBe(all.body.rooms[0].room_id);
      expect(second.body.rooms[0].room_id).toBe(all.body.rooms[1].room_id);
    });

    it('answers 404 for an unknown room', async () => {
      const res = await call(server, 'GET', '/api/rooms/NOPE0000');
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({
        statusCode: 404,
        code: 'NOT_FOUND',
        message: expect.stringContaining('NOPE0000'),
      });
      expect((await call(server, 'DELETE', '/api/rooms/NOPE0000')).status).toBe(404);
    });
  });

  describe('a connected client', () => {
    it('is seen in /api/clients, /api/rooms/:id and /api/stats', async () => {
      const id = room();
      await call(server, 'POST', '/api/rooms', { body: { room_id: id } });
      const dev = device('web');
      await pool.connect({ device_id: dev, identity: 'web', room_id: id });

      const clients = await call(server, 'GET', '/api/clients');
      expect(clients.status).toBe(200);
      expect(clients.body.clients).toContainEqual(
        expect.objectContaining({
          device_id: dev,
          identity: 'web',
          rooms: [id],
          primary_room: id,
          node_id: server.config.NODE_ID,
        }),
      );
      const inRoom = await call(server, 'GET', `/api/clients?room_id=${id}`);
      expect(inRoom.body.clients.map((c: { device_id: string }) => c.device_id)).toEqual([dev]);
      expect((await call(server, 'GET', '/api/clients?room_id=EMPTY000')).body.clients).toEqual([]);

      const detail = await call(server, 'GET', `/api/rooms/${id}`);
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({ room_id: id, total_clients: 1 });
      expect(detail.body.members).toEqual([
        expect.objectContaining({ device_id: dev, identity: 'web', node_id: server.config.NODE_ID }),
      ]);

      const list = await call(server, 'GET', '/api/rooms?limit=1000');
      expect(list.body.rooms).toContainEqual(expect.objectContaining({ room_id: id, total_clients: 1 }));

      const stats = await call(server, 'GET', '/api/stats');
      expect(stats.body.connections).toBeGreaterThanOrEqual(1);
      expect(stats.body.rooms).toBeGreaterThanOrEqual(1);
    });

    it('receives a broadcast to its room, and one to every client', async () => {
      const id = room();
      const { client } = await pool.connect({ device_id: device('bc'), identity: 'web', room_id: id });

      const toRoom = await call(server, 'POST', '/api/broadcast', {
        body: { room_id: id, payload: { text: 'maintenance at 22:00' } },
      });
      expect(toRoom.status).toBe(200);
      expect(toRoom.body).toEqual({ recipients: 1 });
      const announcement = await client.waitFor('system', (d) => d.kind === 'announcement');
      expect(announcement).toMatchObject({
        kind: 'announcement',
        payload: { text: 'maintenance at 22:00' },
        ts: expect.any(Number),
      });

      const toAll = await call(server, 'POST', '/api/broadcast', {
        body: { kind: 'notification', payload: ['a', 1] },
      });
      expect(toAll.status).toBe(200);
      expect(toAll.body.recipients).toBeGreaterThanOrEqual(1);
      expect(await client.waitFor('system', (d) => d.kind === 'notification')).toMatchObject({
        payload: ['a', 1],
      });
    });

    it('refuses a broadcast to an unknown room (404) or without a payload or with a bad kind (400)', async () => {
      expect(
        (await call(server, 'POST', '/api/broadcast', { body: { room_id: 'NOPE0000', payload: 1 } })).status,
      ).toBe(404);
      const noPayload = await call(server, 'POST', '/api/broadcast', { body: { kind: 'announcement' } });
      expect(noPayload.status).toBe(400);
      expect(noPayload.body.details).toEqual(expect.arrayContaining([expect.stringMatching(/payload/)]));
      expect(
        (await call(server, 'POST', '/api/broadcast', { body: { kind: 'Bad Kind', payload: 1 } })).status,
      ).toBe(400);
    });

    it('is kicked: `system` kind `kicked`, then close 4403; a second kick is 404', async () => {
      const dev = device('kick');
      const { client } = await pool.connect({ device_id: dev, identity: 'web', room_id: room() });
      const res = await call(server, 'DELETE', `/api/clients/${dev}?reason=spam`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ device_id: dev, kicked: true });
      expect(await client.waitFor('system', (d) => d.kind === 'kicked')).toMatchObject({
        payload: { reason: 'spam' },
      });
      expect((await client.closed).code).toBe(4403);

      const again = await call(server, 'DELETE', `/api/clients/${dev}`);
      expect(again.status).toBe(404);
      expect(again.body.code).toBe('NOT_FOUND');
      expect(
        (await call(server, 'GET', '/api/clients')).body.clients.map(
          (c: { device_id: string }) => c.device_id,
        ),
      ).not.toContain(dev);
    });

    it('has its connections recorded, newest first, in /api/devices/:id/connections', async () => {
      const dev = device('audit');
      const first = await pool.connect({ device_id: dev, identity: 'web', room_id: room() });
      await call(server, 'DELETE', `/api/clients/${dev}`);
      await first.client.closed;
      const second = await pool.connect({ device_id: dev, identity: 'web', room_id: room() });

      const rows = await eventually(
        async () =>
          (await call(server, 'GET', `/api/devices/${dev}/connections`)).body.connections as Array<
            Record<string, unknown>
          >,
        (list) => list.length === 2 && list[1].close_code === 4403,
      );
      expect(rows[0]).toMatchObject({
        session_id: second.handshake.connection.session_id,
        device_id: dev,
        identity: 'web',
        node_id: server.config.NODE_ID,
        disconnected_at: null,
      });
      expect(rows[1]).toMatchObject({ session_id: first.handshake.connection.session_id, close_code: 4403 });
      expect(rows[1].client_ip).toEqual(expect.any(String));
      expect(new Date(rows[1].disconnected_at as string).getTime()).toBeGreaterThanOrEqual(
        new Date(rows[1].connected_at as string).getTime(),
      );

      const limited = await call(server, 'GET', `/api/devices/${dev}/connections?limit=1`);
      expect(limited.body.connections).toHaveLength(1);
      expect(limited.body.connections[0].session_id).toBe(second.handshake.connection.session_id);
      expect((await call(server, 'GET', '/api/devices/nobody-ever/connections')).body).toEqual({
        connections: [],
      });
      expect((await call(server, 'GET', `/api/devices/${dev}/connections?limit=501`)).status).toBe(400);
    });

    it('is told `room_closed` when its room is deleted, and stays connected', async () => {
      const id = room();
      await call(server, 'POST', '/api/rooms', { body: { room_id: id } });
      const { client } = await pool.connect({ device_id: device('rc'), identity: 'web', room_id: id });

      const res = await call(server, 'DELETE', `/api/rooms/${id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ room_id: id, notified: 1 });
      expect(await client.waitFor('system', (d) => d.kind === 'room_closed')).toMatchObject({
        payload: { room_id: id },
      });
      expect((await call(server, 'GET', `/api/rooms/${id}`)).status).toBe(404);
      expect((await call(server, 'DELETE', `/api/rooms/${id}`)).status).toBe(404);
      expect(client.isOpen).toBe(true);
      await expect(client.ping()).resolves.toMatchObject({ ts: expect.any(Number) });
    });
  });

  describe('messages', () => {
    it('pages through the stored messages of a room', async () => {
      const id = room();
      const { client } = await pool.connect({ device_id: device('writer'), identity: 'web', room_id: id });
      for (let i = 1; i <= 5; i++) {
        await client.request(
          'message.send',
          { room_id: id, kind: 'text', content: `hi ${i}` },
          { id: `m${i}` },
        );
      }
      // Stored by the message writer (in process, or a BullMQ worker): poll until all five are there.
      await eventually(
        async () =>
          (await call(server, 'GET', `/api/rooms/${id}/messages?limit=100`)).body.messages as unknown[],
        (messages) => messages.length === 5,
      );

      const page1 = await call(server, 'GET', `/api/rooms/${id}/messages?limit=2`);
      expect(page1.status).toBe(200);
      expect(page1.body.messages.map((m: { seq: number }) => m.seq)).toEqual([5, 4]);
      expect(page1.body.messages[0]).toMatchObject({
        room_id: id,
        kind: 'text',
        content: 'hi 5',
        from: { identity: 'web' },
        ts: expect.any(Number),
      });
      expect(page1.body.next_cursor).toBe(4);
      const page2 = await call(
        server,
        'GET',
        `/api/rooms/${id}/messages?limit=2&before_seq=${page1.body.next_cursor}`,
      );
      expect(page2.body.messages.map((m: { seq: number }) => m.seq)).toEqual([3, 2]);
      const page3 = await call(
        server,
        'GET',
        `/api/rooms/${id}/messages?limit=2&before_seq=${page2.body.next_cursor}`,
      );
      expect(page3.body).toMatchObject({
        messages: [expect.objectContaining({ seq: 1, content: 'hi 1' })],
        next_cursor: null,
      });

      const forward = await call(server, 'GET', `/api/rooms/${id}/messages?after_seq=0&limit=3`);
      expect(forward.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3]);
      expect(forward.body.next_cursor).toBe(3);
      const defaults = await call(server, 'GET', `/api/rooms/${id}/messages`);
      expect(defaults.body.messages).toHaveLength(5);

      const stats = await call(server, 'GET', '/api/stats');
      expect(stats.body.messages_per_min).toBeGreaterThanOrEqual(5);
    });

    it('validates the query (400)', async () => {
      for (const query of [
        'limit=0',
        'limit=101',
        'limit=abc',
        'before_seq=0',
        'before_seq=5&after_seq=1',
        'page=2',
      ]) {
        const res = await call(server, 'GET', `/api/rooms/ROOM0001/messages?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.body.code).toBe('BAD_REQUEST');
      }
    });

    it('answers an empty page for a room with no messages', async () => {
      expect((await call(server, 'GET', '/api/rooms/QUIET000/messages')).body).toEqual({
        messages: [],
        next_cursor: null,
      });
    });
  });

  describe('queues', () => {
    it('counts jobs per queue and state', async () => {
      const res = await call(server, 'GET', '/api/queues');
      expect(res.status).toBe(200);
      expect(res.body.queues.map((q: { name: string }) => q.name).sort()).toEqual([
        'audit',
        'inbox',
        'messages',
      ]);
      const messages = res.body.queues.find((q: { name: string }) => q.name === 'messages');
      expect(messages).toEqual({
        name: 'messages',
        waiting: expect.any(Number),
        active: expect.any(Number),
        delayed: expect.any(Number),
        completed: expect.any(Number),
        failed: expect.any(Number),
      });
    });

    it('refuses an unknown queue name (400) and a bad limit', async () => {
      for (const [method, path] of [
        ['GET', '/api/queues/nope/failed'],
        ['POST', '/api/queues/nope/retry-failed'],
        ['GET', '/api/queues/messages/failed?limit=0'],
      ]) {
        const res = await call(server, method, path);
        expect(res.status, path).toBe(400);
        expect(res.body.code).toBe('BAD_REQUEST');
      }
    });

    it('lists dead-lettered jobs and retries them', async () => {
      expect((await call(server, 'POST', '/api/queues/messages/retry-failed')).body).toEqual({ retried: 0 });
      const sessionId = `dead-${mode === 'embedded' ? 'e' : 'r'}-${Date.now()}`;
      // Audit records are the queue's to retry and dead-letter, in both drivers.
      recordRefusedConnection(server.app, sessionId);
      // BullMQ carries audit records in packs: a dead letter's data is then an array of them.
      const ours = (j: Record<string, any>) => [j.data].flat().some((d) => d?.sessionId === sessionId);

      const failed = await eventually(
        async () =>
          (await call(server, 'GET', '/api/queues/audit/failed')).body.jobs as Array<Record<string, any>>,
        (list) => list.some(ours),
      );
      expect(failed.find(ours)).toMatchObject({
        name: 'connection.closed',
        queue: 'audit',
        attempts_made: 2,
        failed_reason: expect.any(String),
      });
      expect([failed.find(ours)!.data].flat()).toContainEqual(expect.objectContaining({ sessionId }));
      const counts = await call(server, 'GET', '/api/queues');
      expect(
        counts.body.queues.find((q: { name: string }) => q.name === 'audit').failed,
      ).toBeGreaterThanOrEqual(1);

      const retried = await call(server, 'POST', '/api/queues/audit/retry-failed');
      expect(retried.status).toBe(200);
      expect(retried.body.retried).toBeGreaterThanOrEqual(1);
      // It fails again and comes back to the dead letters.
      await eventually(
        async () =>
          (await call(server, 'GET', '/api/queues/audit/failed?limit=1000')).body.jobs as Array<
            Record<string, any>
          >,
        (list) => list.some(ours),
      );
    });
  });

  describe('OpenAPI document', () => {
    it('lists every admin route, secured by the admin bearer token, with its error responses', async () => {
      const res = await call(server, 'GET', '/docs-json', { token: null });
      expect(res.status).toBe(200);
      const doc = res.body;
      expect(doc.components.securitySchemes.admin).toMatchObject({ type: 'http', scheme: 'bearer' });
      const expected: Array<[string, string]> = [
        ['get', '/api/stats'],
        ['get', '/api/rooms'],
        ['post', '/api/rooms'],
        ['get', '/api/rooms/{id}'],
        ['delete', '/api/rooms/{id}'],
        ['get', '/api/rooms/{id}/messages'],
        ['get', '/api/rooms/{id}/members'],
        ['put', '/api/rooms/{id}/members/{device_id}'],
        ['delete', '/api/rooms/{id}/members/{device_id}'],
        ['get', '/api/clients'],
        ['delete', '/api/clients/{deviceId}'],
        ['get', '/api/devices/{id}/connections'],
        ['get', '/api/devices/{id}/unread'],
        ['post', '/api/broadcast'],
        ['post', '/api/notifications'],
        ['delete', '/api/messages/{id}'],
        ['get', '/api/queues'],
        ['get', '/api/queues/{name}/failed'],
        ['post', '/api/queues/{name}/retry-failed'],
      ];
      const adminPaths = Object.keys(doc.paths).filter((p) => p.startsWith('/api/'));
      expect(adminPaths.sort()).toEqual([...new Set(expected.map(([, p]) => p))].sort());
      for (const [method, path] of expected) {
        const op = doc.paths[path]?.[method];
        expect(op, `${method} ${path}`).toBeDefined();
        expect(op.security, `${method} ${path}`).toEqual([{ admin: [] }]);
        expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        expect(op.summary, `${method} ${path}`).toEqual(expect.any(String));
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(
          expect.arrayContaining(['401', '403']),
        );
        const success = op.responses['200'] ?? op.responses['201'];
        expect(success?.content?.['application/json']?.schema, `${method} ${path}`).toBeDefined();
      }
      expect(Object.keys(doc.paths['/api/rooms/{id}'].get.responses)).toContain('404');
      expect(Object.keys(doc.paths['/api/rooms'].post.responses)).toEqual(
        expect.arrayContaining(['201', '400', '409']),
      );
      expect(Object.keys(doc.paths['/api/queues'].get.responses)).toContain('503');
      expect(doc.paths['/api/queues/{name}/failed'].get.parameters).toContainEqual(
        expect.objectContaining({ name: 'name', in: 'path' }),
      );
      expect(
        doc.paths['/api/rooms/{id}/messages'].get.parameters.map((p: { name: string }) => p.name).sort(),
      ).toEqual(['after_seq', 'before_seq', 'id', 'limit']);
      expect(doc.components.schemas.ErrorResponseDto.properties).toHaveProperty('code');
      // Probes and metrics are documented, without the admin token.
      for (const path of ['/health', '/health/live', '/health/ready', '/metrics']) {
        expect(doc.paths[path]?.get, path).toBeDefined();
        expect(doc.paths[path].get.security, path).toBeUndefined();
      }
    });

    it('serves the Swagger UI at /docs', async () => {
      const res = await fetch(`${server.url}/docs`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/swagger/i);
    });
  });
});

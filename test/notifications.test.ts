import { RoomcastRequestError } from '#client';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceEntity } from '../src/devices/device.entity.js';
import { OfflineItemEntity } from '../src/offline/offline-item.entity.js';
import { OfflineService } from '../src/offline/offline.service.js';
import {
  ADMIN_TOKEN,
  startTestServer,
  testEnvironment,
  type TestEnvironment,
  type TestServer,
} from './support/app.js';
import { ClientPool, eventually } from './support/clients.js';
import { MODES } from './support/services.js';

interface Reply<T = any> {
  status: number;
  body: T;
}

async function notify<T = any>(
  server: TestServer,
  body: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<Reply<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${server.url}/api/notifications`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(MODES)('notifications and invitations (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  let pool: ClientPool;
  let offline: OfflineService;
  let n = 0;
  const device = (name: string) => `${name}-${++n}`;
  const room = () => `NTF${String(++n).padStart(5, '0')}`;

  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env);
    pool = new ClientPool(server.wsUrl);
    offline = server.app.get(OfflineService);
  });

  afterAll(async () => {
    await pool?.closeAll();
    await server?.stop();
    await env?.dispose();
  });

  const rows = (deviceId: string) =>
    server.app.get(DataSource).getRepository(OfflineItemEntity).find({ where: { deviceId } });

  /** A device that connected once and is gone, once its `devices` row is written. */
  async function goneDevice(name: string): Promise<string> {
    const id = device(name);
    const { client } = await pool.connect({ device_id: id, identity: 'old-phone' });
    await client.close();
    await eventually(
      () => server.app.get(DataSource).getRepository(DeviceEntity).findOneBy({ deviceId: id }),
      (row) => row !== null,
    );
    return id;
  }

  describe('POST /api/notifications', () => {
    it('keeps a notification to a device that is not connected', async () => {
      const d = device('offline');
      const res = await notify(server, { device_ids: [d], payload: { text: 'export ready' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ notification_id: expect.stringMatching(UUID), delivered: 0, stored: 1 });
      const [item] = await offline.pending(d, 0, 10);
      expect(item).toMatchObject({
        kind: 'system',
        payload: { kind: 'notification', payload: { text: 'export ready' }, ts: expect.any(Number) },
      });
      expect(await offline.count(d)).toBe(1);
    });

    it('delivers to a connected device live, as a `system` event, and keeps nothing', async () => {
      const d = device('online');
      const { client } = await pool.connect({ device_id: d, identity: 'web' });
      const res = await notify(server, { device_ids: [d], kind: 'billing.due', payload: { amount: 3 } });
      expect(res.body).toMatchObject({ delivered: 1, stored: 0 });
      const event = await client.waitFor('system', (e) => e.kind === 'billing.due');
      expect(event).toEqual({ kind: 'billing.due', payload: { amount: 3 }, ts: expect.any(Number) });
      expect(Math.abs(event.ts - Date.now())).toBeLessThan(5000);
      expect(await offline.count(d)).toBe(0);
    });

    it('splits a list of devices between live and offline, each device once', async () => {
      const on = device('mixed-on');
      const off = device('mixed-off');
      const { client } = await pool.connect({ device_id: on, identity: 'web' });
      const res = await notify(server, { device_ids: [on, off, off, on], payload: 'hello' });
      expect(res.body).toMatchObject({ delivered: 1, stored: 1 });
      await expect(client.waitFor('system', (e) => e.payload === 'hello')).resolves.toBeDefined();
      expect(await rows(off)).toHaveLength(1);
    });

    it('delivers a kept notification at the next handshake', async () => {
      const d = device('later');
      await notify(server, { device_ids: [d], payload: { text: 'while you were away' } });
      const { handshake } = await pool.connect({ device_id: d, identity: 'phone' });
      expect(handshake.offline).toEqual([
        {
          type: 'system',
          data: { kind: 'notification', payload: { text: 'while you were away' }, ts: expect.any(Number) },
        },
      ]);
      await eventually(
        () => rows(d),
        (r) => r.length === 0,
      );
    });

    it("reaches a room's connected members live and keeps nothing for the room", async () => {
      const roomId = room();
      const a = await pool.connect({ device_id: device('room-a'), identity: 'web', room_id: roomId });
      const b = await pool.connect({ device_id: device('room-b'), identity: 'web', room_id: roomId });
      const outsider = await pool.connect({ device_id: device('room-out'), identity: 'web' });
      const res = await notify(server, {
        room_id: roomId,
        kind: 'room.notice',
        payload: { text: 'hi room' },
      });
      expect(res.body).toMatchObject({ delivered: 2, stored: 0 });
      for (const { client } of [a, b]) {
        await expect(client.waitFor('system', (e) => e.kind === 'room.notice')).resolves.toMatchObject({
          payload: { text: 'hi room' },
        });
      }
      await expect(outsider.client.waitFor('system', undefined, 300)).rejects.toThrow();

      const missing = await notify(server, { room_id: 'NOSUCHROOM', payload: 1 });
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('validates the body: exactly one target, a real `true` for everyone, known fields', async () => {
      const bad: unknown[] = [
        { payload: 1 },
        { device_ids: ['d1'], room_id: 'ROOM0001', payload: 1 },
        { device_ids: ['d1'], everyone: true, payload: 1 },
        { everyone: false, payload: 1 },
        { everyone: 'true', payload: 1 },
        { everyone: 'false', payload: 1 },
        { device_ids: [], payload: 1 },
        { device_ids: ['bad id!'], payload: 1 },
        { device_ids: 'd1', payload: 1 },
        { device_ids: ['d1'] },
        { device_ids: ['d1'], payload: 1, kind: 'Not A Kind' },
        { device_ids: ['d1'], payload: 1, colour: 'red' },
      ];
      for (const body of bad) {
        const res = await notify(server, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, code: 'BAD_REQUEST' });
      }
      expect(await offline.count('d1')).toBe(0);
    });

    it('requires the admin token', async () => {
      const d = device('auth');
      expect((await notify(server, { device_ids: [d], payload: 1 }, null)).status).toBe(401);
      expect((await notify(server, { device_ids: [d], payload: 1 }, 'wrong-token')).status).toBe(401);
      expect(await offline.count(d)).toBe(0);
    });

    it('is documented in the OpenAPI document', async () => {
      const doc = (await (await fetch(`${server.url}/docs-json`)).json()) as any;
      const op = doc.paths['/api/notifications']?.post;
      expect(op).toBeDefined();
      expect(Object.keys(op.responses)).toEqual(
        expect.arrayContaining(['200', '400', '401', '403', '404', '503']),
      );
    });
  });

  describe('room.invite', () => {
    it('invites a connected device live', async () => {
      const roomId = room();
      const inviter = device('inviter');
      const invitee = device('invitee');
      const a = await pool.connect({ device_id: inviter, identity: 'alice', room_id: roomId });
      const b = await pool.connect({ device_id: invitee, identity: 'bob' });
      const ack = await a.client.request('room.invite', { room_id: roomId, device_id: invitee });
      expect(ack).toEqual({ ok: true, delivered: true });
      await expect(b.client.waitFor('system', (e) => e.kind === 'invitation')).resolves.toEqual({
        kind: 'invitation',
        payload: { room_id: roomId, from: { device_id: inviter, identity: 'alice' } },
        ts: expect.any(Number),
      });
      expect(await offline.count(invitee)).toBe(0);
    });

    it('keeps an invitation for a device that is not connected, once per inviter and room', async () => {
      const roomId = room();
      const inviter = device('inviter');
      const invitee = device('away');
      const a = await pool.connect({ device_id: inviter, identity: 'alice', room_id: roomId });
      await expect(a.client.request('room.invite', { room_id: roomId, device_id: invitee })).resolves.toEqual(
        {
          ok: true,
          delivered: false,
        },
      );
      // Asked again while the first is pending: still one invitation.
      await expect(a.client.request('room.invite', { room_id: roomId, device_id: invitee })).resolves.toEqual(
        {
          ok: true,
          delivered: false,
        },
      );
      expect(await rows(invitee)).toHaveLength(1);

      const { handshake } = await pool.connect({ device_id: invitee, identity: 'bob' });
      expect(handshake.offline).toEqual([
        {
          type: 'system',
          data: {
            kind: 'invitation',
            payload: { room_id: roomId, from: { device_id: inviter, identity: 'alice' } },
            ts: expect.any(Number),
          },
        },
      ]);
    });

    it('refuses FORBIDDEN to a device that is not in the room', async () => {
      const roomId = room();
      await pool.connect({ device_id: device('member'), identity: 'm', room_id: roomId });
      const outsider = await pool.connect({ device_id: device('outsider'), identity: 'o' });
      const invitee = device('target');
      const err = await outsider.client
        .request('room.invite', { room_id: roomId, device_id: invitee })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RoomcastRequestError);
      expect(err).toMatchObject({ code: 'FORBIDDEN' });
      expect(await offline.count(invitee)).toBe(0);
    });

    it('refuses BAD_REQUEST for an invalid request or an invitation to oneself', async () => {
      const roomId = room();
      const me = device('self');
      const { client } = await pool.connect({ device_id: me, identity: 'me', room_id: roomId });
      for (const data of [
        { room_id: roomId, device_id: me },
        { room_id: roomId, device_id: 'bad id!' },
        { room_id: roomId },
        { room_id: roomId, device_id: 'x', extra: 1 },
      ]) {
        await expect(client.rawRequest('room.invite', data), JSON.stringify(data)).rejects.toMatchObject({
          code: 'BAD_REQUEST',
        });
      }
    });
  });

  // Last: it keeps an item for every device the earlier tests left behind.
  describe('everyone', () => {
    it('reaches every connected client live and keeps it for devices seen within OFFLINE_TTL_MS', async () => {
      const gone = await goneDevice('gone');
      const longGone = device('long-gone');
      const old = new Date(Date.now() - server.config.OFFLINE_TTL_MS - 60_000);
      await server.app.get(DataSource).getRepository(DeviceEntity).insert({
        deviceId: longGone,
        lastIdentity: 'ancient',
        lastRoomId: null,
        firstConnectedAt: old,
        lastConnectedAt: old,
      });
      const a = await pool.connect({ device_id: device('all-a'), identity: 'web', room_id: room() });
      const b = await pool.connect({ device_id: device('all-b'), identity: 'web' });

      const res = await notify(server, {
        everyone: true,
        kind: 'announcement',
        payload: { text: 'v2 is out' },
      });
      expect(res.status).toBe(200);
      expect(res.body.delivered).toBeGreaterThanOrEqual(2);
      expect(res.body.stored).toBeGreaterThanOrEqual(1);
      for (const { client } of [a, b]) {
        await expect(
          client.waitFor(
            'system',
            (e) => e.kind === 'announcement' && (e.payload as any)?.text === 'v2 is out',
          ),
        ).resolves.toBeDefined();
      }
      const [kept] = await offline.pending(gone, 0, 10);
      expect(kept.payload).toMatchObject({ kind: 'announcement', payload: { text: 'v2 is out' } });
      expect(await offline.count(longGone)).toBe(0);
      // Connected devices got it live, not also offline.
      expect(await offline.count(a.handshake.connection.device_id)).toBe(0);
    });
  });
});

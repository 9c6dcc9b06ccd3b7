import type { HelloData } from '#protocol';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, serve } from './support/app.js';
import { MODES } from './support/services.js';

/**
 * Private rooms (anonymous clients, so only the member list stands in the way): created over
 * the socket or the admin API; joined by the creator, by invited devices and by devices an
 * operator adds, by no one else, whichever way they try (hello, room.join, resume).
 */
describe.each(MODES)('private rooms (%s)', (mode) => {
  const served = serve(mode);

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${served.server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });

  async function refusal(hello: HelloData) {
    const err = (await served.pool.connect(hello).then(
      () => expect.fail('the handshake was accepted'),
      (e: unknown) => e,
    )) as { closeCode?: number; code?: string };
    return { close: err.closeCode, code: err.code };
  }

  it('lets in the creator and the devices it invites, and refuses everyone else', async () => {
    const owner = await served.pool.connect({ device_id: 'pv-owner', identity: 'web', room_id: 'LOBBY' });
    await expect(
      owner.client.request('room.create', { room_id: 'PRIV0001', private: true }),
    ).resolves.toEqual({ room_id: 'PRIV0001' });
    await expect(owner.client.request('room.join', { room_id: 'PRIV0001' })).resolves.toMatchObject({
      room_id: 'PRIV0001',
      total_clients: 1,
    });

    const guest = await served.pool.connect({ device_id: 'pv-guest', identity: 'web', room_id: 'LOBBY' });
    await expect(guest.client.request('room.join', { room_id: 'PRIV0001' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(await refusal({ device_id: 'pv-other', identity: 'web', room_id: 'PRIV0001' })).toEqual({
      close: 4403,
      code: 'FORBIDDEN',
    });
    // A refused join leaves nothing behind: the room still has its one member.
    const info = await owner.client.request('query_room', { room_id: 'PRIV0001' });
    expect(info).toMatchObject({ total_clients: 1 });

    // An invitation puts the guest on the list before it arrives.
    const invited = guest.client.waitFor('system', (e) => e.kind === 'invitation');
    await expect(
      owner.client.request('room.invite', { room_id: 'PRIV0001', device_id: 'pv-guest' }),
    ).resolves.toMatchObject({ delivered: true });
    await invited;
    await expect(guest.client.request('room.join', { room_id: 'PRIV0001' })).resolves.toMatchObject({
      total_clients: 2,
    });
    const sent = await guest.client.request('message.send', {
      room_id: 'PRIV0001',
      kind: 'text',
      content: 'in at last',
    });
    await owner.client.waitFor('message', (m) => m.message_id === sent.message_id);

    const list = (await (await admin('GET', '/api/rooms/PRIV0001/members')).json()) as {
      members: Array<{ device_id: string; added_by: string }>;
    };
    expect(list.members.map((m) => [m.device_id, m.added_by])).toEqual([
      ['pv-owner', 'pv-owner'],
      ['pv-guest', 'pv-owner'],
    ]);
  });

  it('follows the member list an operator keeps, at the handshake and on resume', async () => {
    const created = await admin('POST', '/api/rooms', { room_id: 'PRIV0002', private: true });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ room_id: 'PRIV0002', private: true, created_by: 'admin' });
    expect(await admin('GET', '/api/rooms/PRIV0002/members').then((r) => r.json())).toEqual({
      room_id: 'PRIV0002',
      members: [],
    });

    expect(await refusal({ device_id: 'pv-ops', identity: 'web', room_id: 'PRIV0002' })).toMatchObject({
      close: 4403,
    });
    expect((await admin('PUT', '/api/rooms/PRIV0002/members/pv-ops')).status).toBe(200);
    const twice = await admin('PUT', '/api/rooms/PRIV0002/members/pv-ops'); // idempotent
    expect(await twice.json()).toMatchObject({ members: [{ device_id: 'pv-ops', added_by: 'admin' }] });
    const first = await served.pool.connect({ device_id: 'pv-ops', identity: 'web', room_id: 'PRIV0002' });
    expect(first.handshake.room).toMatchObject({ room_id: 'PRIV0002', created: false });
    await first.client.close();

    const removed = await admin('DELETE', '/api/rooms/PRIV0002/members/pv-ops');
    expect(await removed.json()).toEqual({ room_id: 'PRIV0002', members: [] });
    expect((await admin('DELETE', '/api/rooms/PRIV0002/members/pv-ops')).status).toBe(404);
    expect(await refusal({ device_id: 'pv-ops', identity: 'web', room_id: 'PRIV0002' })).toMatchObject({
      close: 4403,
    });
    // Its resume of the room is refused like a full room's: skipped, nothing replayed.
    const back = await served.pool.connect({
      device_id: 'pv-ops',
      identity: 'web',
      room_id: 'LOBBY',
      resume: { PRIV0002: 0 },
    });
    expect(back.handshake.resumed).toEqual([
      { room_id: 'PRIV0002', from_seq: 1, to_seq: 0, complete: false },
    ]);
    // Without a room, it is not sent back to the private room it was last in.
    await back.client.close();
    const again = await served.pool.connect({ device_id: 'pv-ops', identity: 'web' });
    expect(again.handshake.room.room_id).not.toBe('PRIV0002');
  });

  it('refuses member lists of rooms that are not private, and bad ids', async () => {
    await admin('POST', '/api/rooms', { room_id: 'OPEN0001' });
    expect((await admin('PUT', '/api/rooms/OPEN0001/members/pv-x')).status).toBe(400);
    expect((await admin('PUT', '/api/rooms/NOPE0001/members/pv-x')).status).toBe(404);
    expect((await admin('PUT', '/api/rooms/PRIV0002/members/bad%20id')).status).toBe(400);
  });
});

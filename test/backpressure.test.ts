import type { Socket } from 'node:net';
import type { RoomcastClient } from '#client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConnectionRegistry } from '../src/gateway/connection-registry.js';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { ClientPool, eventually } from './support/clients.js';
import { MODES } from './support/services.js';

const BUDGET = 256 * 1024;
const FRAME = 48 * 1024;
const BATCH = 20;
/** Far more than loopback's kernel buffers hold (a few MiB): the server's own buffer must fill. */
const MAX_FRAMES = 1000;

/** A raw `ws` client in a room that stops reading its socket when told to. */
async function slowClient(wsUrl: string, deviceId: string, roomId: string) {
  const ws = new WebSocket(wsUrl);
  let binary = 0;
  let last = '';
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return;
    binary++;
    last = data.length < 16 ? data.toString() : '';
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', resolve);
  });
  const ready = new Promise<void>((resolve) =>
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary && (JSON.parse(data.toString()) as { type: string }).type === 'offline_done') resolve();
    }),
  );
  ws.send(
    JSON.stringify({
      type: 'hello',
      id: 'h',
      data: { device_id: deviceId, identity: 'slow', room_id: roomId },
    }),
  );
  await ready;
  const socket = (ws as unknown as { _socket: Socket })._socket;
  return {
    ws,
    closed,
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    received: () => ({ binary, last }),
  };
}

describe.each(MODES)('backpressure (%s)', (mode) => {
  let env: TestEnvironment;

  beforeAll(async () => {
    env = await testEnvironment(mode);
  });

  afterAll(async () => {
    await env?.dispose();
  });

  describe.each(['disconnect', 'drop'] as const)('BACKPRESSURE_POLICY=%s', (policy) => {
    let server: TestServer;
    let pool: ClientPool;
    const roomId = `BP${policy === 'drop' ? 'DROP' : 'DISC'}${mode === 'embedded' ? 'E' : 'C'}`;
    const slowId = `slow-${policy}`;

    beforeAll(async () => {
      server = await startTestServer(env, {
        OUTBOUND_BUFFER_MAX_BYTES: String(BUDGET),
        BACKPRESSURE_POLICY: policy,
      });
      pool = new ClientPool(server.wsUrl);
    });

    afterAll(async () => {
      await pool?.closeAll();
      await server?.stop();
    });

    const slowConnection = () => server.app.get(ConnectionRegistry).device(slowId);
    const actions = async (action: string) => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`roomcast_backpressure_actions_total{action="${action}"}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };

    /**
     * Floods the room with binary frames from `sender` until `enough`, sampling what the
     * server buffers for the slow client after each batch (at most `max` frames). Returns
     * frames sent and the peak.
     */
    async function flood(sender: RoomcastClient, enough: () => Promise<boolean>, max = MAX_FRAMES) {
      const payload = new Uint8Array(FRAME).fill(7);
      let sent = 0;
      let peak = 0;
      while (sent < max && !(await enough())) {
        for (let i = 0; i < BATCH; i++, sent++) sender.sendBinary(payload);
        // The pong comes after the server has handled (and fanned out) every frame before it.
        await sender.ping();
        peak = Math.max(peak, slowConnection()?.socket.bufferedAmount ?? 0);
      }
      return { sent, peak };
    }

    it('keeps what a client that never reads costs bounded; the other members get everything', async () => {
      const slow = await slowClient(server.wsUrl, slowId, roomId);
      const { client: sender } = await pool.connect({
        device_id: `sender-${policy}`,
        identity: 's',
        room_id: roomId,
      });
      const { client: normal } = await pool.connect({
        device_id: `normal-${policy}`,
        identity: 'n',
        room_id: roomId,
      });
      let delivered = 0;
      normal.on('binary', () => delivered++);
      slow.pause();

      const { sent, peak } = await flood(sender, async () =>
        policy === 'disconnect' ? slowConnection() === undefined : (await actions('dropped')) > 0,
      );
      expect(sent).toBeLessThan(MAX_FRAMES);
      expect(peak).toBeLessThanOrEqual(BUDGET + FRAME);
      await eventually(
        async () => delivered,
        (d) => d === sent,
      );

      if (policy === 'disconnect') {
        expect(await actions('disconnected')).toBe(1);
        slow.resume();
        // The close frame sat behind unread data; the socket is destroyed after a grace period.
        expect([1013, 1006]).toContain(await slow.closed);
        expect(slow.received().binary).toBeLessThan(sent);
        return;
      }
      // drop: more frames while it still does not read are skipped, the buffer stays bounded.
      const more = await flood(sender, async () => false, 5 * BATCH);
      expect(more.peak).toBeLessThanOrEqual(BUDGET + FRAME);
      expect(slowConnection()?.open).toBe(true);
      slow.resume();
      // Once it reads again it is sent new frames, though it missed some.
      await eventually(
        async () => slowConnection()!.socket.bufferedAmount,
        (b) => b === 0,
      );
      sender.sendBinary(new TextEncoder().encode('last'));
      await eventually(
        async () => slow.received().last,
        (l) => l === 'last',
      );
      expect(slow.received().binary).toBeLessThan(sent + more.sent + 1);
      slow.ws.close();
    });
  });
});

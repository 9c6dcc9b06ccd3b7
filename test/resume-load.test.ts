import { RoomcastClient } from '#client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { MODES } from './support/services.js';

describe.each(MODES)('resume while messages keep coming (%s)', (mode) => {
  let env: TestEnvironment;
  let server: TestServer;
  beforeAll(async () => {
    env = await testEnvironment(mode);
    server = await startTestServer(env);
  });
  afterAll(async () => {
    await server?.stop();
    await env?.dispose();
  });

  it('a client that reconnects 30 times with resume sees every seq, across replay and live', async () => {
    const roomId = 'RESUMELD';
    const { client: sender } = await RoomcastClient.connect(server.wsUrl, {
      device_id: 'rl-sender',
      identity: 's',
      room_id: roomId,
    });
    let stop = false;
    const pump = (async () => {
      while (!stop) {
        await Promise.all(
          Array.from({ length: 5 }, () =>
            sender.request('message.send', { room_id: roomId, kind: 'text', content: 'x' }),
          ),
        );
      }
    })();
    const seen: number[] = [];
    const completes: boolean[] = [];
    let last = 0;
    for (let round = 0; round < 30; round++) {
      const { client, handshake } = await RoomcastClient.connect(server.wsUrl, {
        device_id: 'rl-reader',
        identity: 'r',
        room_id: roomId,
        resume: { [roomId]: last },
      });
      seen.push(...handshake.replayed.map((m) => m.seq!));
      completes.push(...handshake.resumed.map((r) => r.complete));
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 40));
      seen.push(...client.drain('message').map((e) => e.data.seq!));
      last = Math.max(last, ...seen);
      await client.close();
    }
    stop = true;
    await pump;
    const { handshake, client } = await RoomcastClient.connect(server.wsUrl, {
      device_id: 'rl-reader',
      identity: 'r',
      resume: { [roomId]: last },
    });
    seen.push(...handshake.replayed.map((m) => m.seq!));
    // Every seq once, in order: nothing lost at a reconnect, nothing replayed twice.
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    expect(handshake.resumed[0].complete).toBe(true);
    // Nothing was lost, so no replay may claim otherwise (sends were in flight at every one).
    expect(completes).toEqual(completes.map(() => true));
    await Promise.all([client.close(), sender.close()]);
  });
});

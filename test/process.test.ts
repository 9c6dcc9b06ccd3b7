import { once } from 'node:events';
import { RoomcastClient } from '#client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnvironment, type TestEnvironment } from './support/app.js';
import { eventually } from './support/clients.js';
import { spawnServer } from './support/process.js';
import { MODES } from './support/services.js';

describe('the server process', () => {
  it('refuses to start with invalid configuration, naming the key (exit 78)', async () => {
    const { child, output, port } = spawnServer({ HEARTBEAT_MS: 'often' });
    port.catch(() => undefined);
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(78);
    expect(output()).toMatch(/HEARTBEAT_MS/);
  });
});

describe.each(MODES)('SIGTERM (%s)', (mode) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await testEnvironment(mode);
  });
  afterAll(() => env?.dispose());

  it('closes every socket with 1001, keeps what was acked, and exits 0 within SHUTDOWN_TIMEOUT_MS', async () => {
    const server = spawnServer({ ...env.env, SHUTDOWN_TIMEOUT_MS: '5000', NODE_ID: `proc-${mode}` });
    const url = `ws://127.0.0.1:${await server.port}/ws`;
    const { client, handshake } = await RoomcastClient.connect(url, {
      device_id: 'proc-a',
      identity: 'web',
      room_id: 'PROCROOM',
    });
    const acks = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        client.request('message.send', { room_id: 'PROCROOM', kind: 'text', content: `m${i}` }),
      ),
    );
    expect(handshake.room.room_id).toBe('PROCROOM');

    const started = Date.now();
    server.child.kill('SIGTERM');
    const [close, [exitCode]] = await Promise.all([
      client.closed,
      once(server.child, 'exit') as Promise<[number]>,
    ]);
    expect(close.code).toBe(1001);
    expect(exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);

    // Every acked message is stored once: a new process over the same database sees them all.
    const again = spawnServer({ ...env.env, NODE_ID: `proc-${mode}-2`, ADMIN_TOKEN: 'process-test-token' });
    try {
      const base = `http://127.0.0.1:${await again.port}`;
      const url2 = `${base.replace('http', 'ws')}/ws`;
      const { client: c2 } = await RoomcastClient.connect(url2, {
        device_id: 'proc-b',
        identity: 'web',
        room_id: 'PROCROOM',
      });
      const ack = await c2.request('message.send', {
        room_id: 'PROCROOM',
        kind: 'text',
        content: 'after restart',
      });
      // The seq continues after the 50 stored ones: none was lost, none stored twice.
      expect(ack.seq).toBe(51);
      expect(acks.map((a) => a.seq).sort((a, b) => a! - b!)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      const stored = await eventually(
        async () => {
          const res = await fetch(`${base}/api/rooms/PROCROOM/messages?after_seq=0&limit=100`, {
            headers: { authorization: 'Bearer process-test-token' },
          });
          return ((await res.json()) as { messages: Array<{ message_id: string; seq: number }> }).messages;
        },
        (messages) => messages.length >= 51,
      );
      expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
      expect(new Set(stored.map((m) => m.message_id))).toEqual(
        new Set([...acks.map((a) => a.message_id), ack.message_id]),
      );
      await c2.close();
    } finally {
      again.child.kill('SIGTERM');
      await once(again.child, 'exit');
    }
  });
});

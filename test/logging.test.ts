import { RoomcastClient } from '#client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnvironment, type TestEnvironment } from './support/app.js';
import { eventually } from './support/clients.js';
import { spawnServer, stopServer, type ServerProcess } from './support/process.js';

const ADMIN_TOKEN = 'logging-test-admin-secret';

interface LogLine {
  level: string;
  node_id?: string;
  msg: string;
  session_id?: string;
  device_id?: string;
  req?: { url: string; headers: Record<string, string> };
  [key: string]: unknown;
}

/** The server's JSON lines (the harness's own `[harness]` lines are not the server's). */
function jsonLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('[harness]'))
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
    });
}

// Logging does not differ between modes: the embedded server stands for both.
describe('logs (LOG_FORMAT=json, the default)', () => {
  let env: TestEnvironment;
  let server: ServerProcess;
  let base: string;

  beforeAll(async () => {
    env = await testEnvironment('embedded');
    server = spawnServer({ ...env.env, NODE_ID: 'log-node', LOG_LEVEL: 'debug', ADMIN_TOKEN });
    base = `http://127.0.0.1:${await server.port}`;
  });
  afterAll(async () => {
    if (server) await stopServer(server);
    await env?.dispose();
  });

  it('writes one JSON object per line, each with node_id; connection lines carry session_id and device_id', async () => {
    const { client } = await RoomcastClient.connect(`${base.replace('http', 'ws')}/ws`, {
      device_id: 'log-device',
      identity: 'web',
      room_id: 'LOGROOM1',
    });
    await client.close();
    const lines = await eventually(
      async () => jsonLines(server.output()),
      (all) => all.some((l) => l.msg.startsWith('disconnected')),
    );
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(line.node_id, JSON.stringify(line)).toBe('log-node');
    expect(lines.find((l) => l.msg.includes('listening on'))).toMatchObject({ level: 'info' });

    const accepted = lines.find((l) => l.msg.startsWith('handshake accepted'));
    expect(accepted).toMatchObject({ level: 'debug', device_id: 'log-device', context: 'Gateway' });
    expect(accepted!.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const closed = lines.find((l) => l.msg.startsWith('disconnected'));
    expect(closed).toMatchObject({ device_id: 'log-device', session_id: accepted!.session_id });
  });

  it('logs requests at debug with the credentials redacted, and never the /health and /metrics scrapes', async () => {
    await fetch(`${base}/health/live`);
    await fetch(`${base}/metrics`);
    const res = await fetch(`${base}/api/stats?token=${ADMIN_TOKEN}&x=1`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, cookie: `session=${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const lines = await eventually(
      async () => jsonLines(server.output()),
      (all) => all.some((l) => l.req?.url.startsWith('/api/stats')),
    );
    const requestLines = lines.filter((l) => l.req?.url.startsWith('/api/stats'));
    expect(requestLines).toHaveLength(1);
    const logged = requestLines[0];
    expect(logged.level).toBe('debug');
    expect(logged.req!.url).toBe('/api/stats?token=[redacted]&x=1');
    expect(logged.req!.headers.authorization).toBe('[redacted]');
    expect(logged.req!.headers.cookie).toBe('[redacted]');
    expect(server.output()).not.toContain(ADMIN_TOKEN);
    expect(lines.filter((l) => /^\/(health|metrics)/.test(l.req?.url ?? ''))).toEqual([]);
  });
});

describe('logs (LOG_FORMAT=text)', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await testEnvironment('embedded');
  });
  afterAll(() => env?.dispose());

  it("writes Nest's console lines instead, at LOG_LEVEL, a connection's fields appended", async () => {
    const server = spawnServer({ ...env.env, NODE_ID: 'text-node', LOG_FORMAT: 'text', LOG_LEVEL: 'debug' });
    try {
      const { client } = await RoomcastClient.connect(`ws://127.0.0.1:${await server.port}/ws`, {
        device_id: 'text-device',
        identity: 'web',
        room_id: 'LOGROOM2',
      });
      await client.close();
      const output = await eventually(
        async () => server.output(),
        (out) => out.includes('device_id=text-device close_code='),
      );
      expect(output).toContain('node text-node listening on');
      expect(output).toMatch(/^\S*\[Nest\] \d+ /m);
      expect(output).toMatch(
        /handshake accepted \(session_id=[0-9a-f-]{36} device_id=text-device room_id=LOGROOM2\)/,
      );
      expect(output).not.toMatch(/^\{"level"/m);
    } finally {
      await stopServer(server);
    }
  });
});

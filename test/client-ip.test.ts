import { RoomcastClient } from '#client';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/clients.js';
import {
  ADMIN_TOKEN,
  startTestServer,
  testEnvironment,
  type TestEnvironment,
  type TestServer,
} from './support/app.js';

describe.each([
  ['TRUST_PROXY=true', 'true', '203.0.113.7'],
  ['TRUST_PROXY=false', 'false', '127.0.0.1'],
])('client address with %s', (_label, trustProxy, expectedIp) => {
  let env: TestEnvironment;
  let server: TestServer;

  beforeAll(async () => {
    env = await testEnvironment('embedded');
    server = await startTestServer(env, { TRUST_PROXY: trustProxy });
  });

  afterAll(async () => {
    await server?.stop();
    await env?.dispose();
  });

  it(`records ${expectedIp} for a client behind a proxy that sends X-Forwarded-For`, async () => {
    const { client } = await RoomcastClient.connect(
      server.wsUrl,
      { device_id: 'behind-proxy', identity: 'web' },
      { headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } },
    );
    const res = await fetch(`${server.url}/api/clients`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const body = (await res.json()) as { clients: Array<{ device_id: string; client_ip: string }> };
    expect(body.clients.find((c) => c.device_id === 'behind-proxy')?.client_ip).toMatch(
      new RegExp(expectedIp.replace(/\./g, '\\.')),
    );
    await client.close();
    const rows = await eventually(
      () =>
        server.app
          .get(DataSource)
          .query('SELECT client_ip FROM connections WHERE device_id = ?', ['behind-proxy']),
      (r: Array<{ client_ip: string }>) => r.length === 1,
    );
    expect(String(rows[0].client_ip)).toMatch(new RegExp(expectedIp.replace(/\./g, '\\.')));
  });
});

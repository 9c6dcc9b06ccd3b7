import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testEnvironment, type TestEnvironment, type TestServer } from './support/app.js';
import { MODES, servicesAvailable } from './support/services.js';

async function get(
  server: TestServer,
  path: string,
): Promise<{ status: number; body: any; ms: number; headers: Headers }> {
  const started = Date.now();
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: await res.json(), ms: Date.now() - started, headers: res.headers };
}

describe.each(MODES)('health (%s)', (mode) => {
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

  it('reports every dependency up (200), without the admin token', async () => {
    const res = await get(server, '/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/no-cache/);
    expect(res.body.status).toBe('ok');
    const driver = mode === 'embedded' ? 'in-process' : 'bullmq';
    expect(res.body.details).toMatchObject({
      database: { status: 'up' },
      'queue:messages': { status: 'up', driver, waiting: expect.any(Number), failed: expect.any(Number) },
      'queue:audit': { status: 'up', driver },
      websocket: { status: 'up', connections: expect.any(Number) },
    });
    if (mode === 'embedded') expect(res.body.details).not.toHaveProperty('redis');
    else expect(res.body.details.redis).toMatchObject({ status: 'up' });
    expect(res.body.error).toEqual({});
  });

  it('answers /health/ready like /health and /health/live with 200', async () => {
    const ready = await get(server, '/health/ready');
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.details).sort()).toEqual(
      Object.keys((await get(server, '/health')).body.details).sort(),
    );
    const live = await get(server, '/health/live');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok', uptime_s: expect.any(Number) });
  });

  it('probes the WebSocket server without leaving a connection behind', async () => {
    for (let i = 0; i < 5; i++) expect((await get(server, '/health')).status).toBe(200);
    const stats = await fetch(`${server.url}/api/stats`, {
      headers: { authorization: `Bearer ${server.config.ADMIN_TOKEN}` },
    });
    expect(((await stats.json()) as { connections: number }).connections).toBe(0);
  });

  it('answers 503 naming the database when it is down, quickly', async () => {
    const other = await startTestServer(env);
    try {
      await other.app.get(DataSource).destroy();
      const res = await get(other, '/health');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('error');
      expect(res.body.error.database).toMatchObject({ status: 'down', message: expect.any(String) });
      expect(res.body.details.websocket.status).toBe('up');
      expect(res.ms).toBeLessThan(3000);
      // Liveness is about the process, not its dependencies.
      expect((await get(other, '/health/live')).status).toBe(200);
    } finally {
      await other.stop().catch(() => undefined);
    }
  });
});

describe.runIf(servicesAvailable)('health with Redis unreachable (mysql+redis)', () => {
  let env: TestEnvironment;
  let server: TestServer;

  beforeAll(async () => {
    env = await testEnvironment('mysql+redis');
    // Nothing listens on 6390: the server must still start, and say so on /health.
    server = await startTestServer(env, { REDIS_URL: 'redis://127.0.0.1:6390' });
  });

  afterAll(async () => {
    await server?.stop();
    await env?.dispose();
  });

  it('starts, and answers /health with 503 naming Redis and the queues, within the checks bounds', async () => {
    for (const path of ['/health', '/health/ready']) {
      const res = await get(server, path);
      expect(res.status, path).toBe(503);
      expect(res.ms, path).toBeLessThan(3000);
      expect(res.body.status).toBe('error');
      expect(res.body.error.redis).toMatchObject({ status: 'down', message: expect.any(String) });
      expect(res.body.error['queue:messages']).toMatchObject({ status: 'down', driver: 'bullmq' });
      expect(res.body.error['queue:audit']).toMatchObject({ status: 'down' });
      expect(res.body.info.database).toMatchObject({ status: 'up' });
      expect(res.body.info.websocket).toMatchObject({ status: 'up' });
    }
    expect((await get(server, '/health/live')).status).toBe(200);
  });

  it('still serves /metrics and /api/stats quickly, with the queues marked unknown', async () => {
    const started = Date.now();
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/^roomcast_queue_up\{queue="messages"\} 0$/m);
    expect(text).toMatch(/^roomcast_connections 0$/m);
    const stats = await fetch(`${server.url}/api/stats`, {
      headers: { authorization: `Bearer ${server.config.ADMIN_TOKEN}` },
    });
    expect(stats.status).toBe(200);
    expect(await stats.json()).toMatchObject({
      queues: null,
      queues_error: expect.any(String),
      mode: 'redis',
    });
    const queues = await fetch(`${server.url}/api/queues`, {
      headers: { authorization: `Bearer ${server.config.ADMIN_TOKEN}` },
    });
    expect(queues.status).toBe(503);
    expect(await queues.json()).toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(6000);
  });
});

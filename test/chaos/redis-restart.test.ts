import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../support/app.js';
import { connectAll, floodRoom, steadyLoad, storedOnce } from '../support/chaos.js';
import { eventually } from '../support/clients.js';
import { cannotRun, freePort, hasBinary, PrivateRedis, REDIS_SERVER } from '../support/private-services.js';
import { spawnServer, stopServer, type ServerProcess } from '../support/process.js';
import { provisionServices, servicesAvailable, type Services } from '../support/services.js';

const ROOM = 'CHAOSRD1';
const DOWN_MS = 3000;

/**
 * test/cluster/redis-outage.test.ts covers recovery (processes up, /health, delivery resumes)
 * with a Redis that comes back empty. This one restarts a Redis with an append-only file, as
 * operations.md asks of production, and checks that no acknowledged send is lost.
 */
describe.runIf(servicesAvailable)('chaos: Redis killed and restarted under load (append-only file)', () => {
  if (!hasBinary(REDIS_SERVER)) {
    const why = `${REDIS_SERVER} is not on PATH (a private Redis is needed to kill and restart)`;
    cannotRun(why);
    return;
  }

  let redis: PrivateRedis;
  let services: Services;
  let server: ServerProcess;
  let db: Connection;
  let base: string;

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort(), { persistent: true });
    await redis.start();
    services = await provisionServices();
    server = spawnServer({
      ROLE: 'all',
      DATABASE_URL: services.databaseUrl,
      REDIS_URL: redis.url,
      REDIS_PREFIX: services.redisPrefix,
      ADMIN_TOKEN,
      NODE_ID: 'chaos-redis',
      LOG_LEVEL: 'error',
    });
    base = `http://127.0.0.1:${await server.port}`;
    db = await createConnection(services.databaseUrl);
  });

  afterAll(async () => {
    if (server) await stopServer(server);
    await db?.end();
    await services?.dispose();
    await redis?.dispose();
  });

  it('sends while Redis is away are refused, never acked; every acked one is stored once after it returns', async () => {
    const url = `${base.replace('http', 'ws')}/ws`;
    const clients = await connectAll(url, ['rd-a', 'rd-b'], ROOM);
    const load = steadyLoad(clients, ROOM, 20);
    await eventually(
      async () => load.acked(),
      (n) => n >= 50,
      10_000,
    );

    await redis.kill();
    await eventually(
      () => fetch(`${base}/health`).then((r) => r.status),
      (status) => status === 503,
      10_000,
    );
    await new Promise((r) => setTimeout(r, DOWN_MS));
    await redis.start();
    await eventually(
      () => fetch(`${base}/health`).then((r) => r.status),
      (status) => status === 200,
      30_000,
    );
    const { acks, failures } = await load.stop();
    // Sends go through again, on the same sockets or on new ones.
    const after = [
      ...clients.filter((c) => c.isOpen),
      ...(await connectAll(
        url,
        clients.flatMap((c, i) => (c.isOpen ? [] : [`rd-${i}-again`])),
        ROOM,
      )),
    ];
    acks.push(...(await floodRoom(after, ROOM, 20)));
    expect(server.alive(), server.output().slice(-4000)).toBe(true);
    // Refused sends said so (UNAVAILABLE, or the socket closed); none was acked and lost.
    for (const f of failures) expect(f).toMatch(/UNAVAILABLE|closed|not open|timed out/i);
    await storedOnce(db, ROOM, acks, 60_000);
    console.log(
      `redis restart: ${acks.length} acked and stored once, ${failures.length} refused while Redis was away`,
    );
    await Promise.all([...clients, ...after].map((c) => c.close()));
  });
});

import { describe, expect, it } from 'vitest';
import {
  connectAll,
  floodRoom,
  sendAgain,
  serverOnPrivateRedis,
  steadyLoad,
  storedOnce,
} from '../support/chaos.js';
import { eventually } from '../support/clients.js';
import { cannotRun, hasBinary, REDIS_SERVER } from '../support/private-services.js';
import { servicesAvailable } from '../support/services.js';

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

  const env = serverOnPrivateRedis('chaos-redis', { persistent: true });

  it('sends while Redis is away are refused, never acked; each is stored once when sent again with its id', async () => {
    const { redis, server, db, base } = env;
    const url = `${base.replace('http', 'ws')}/ws`;
    const devices = ['rd-a', 'rd-b'];
    const clients = await connectAll(url, devices, ROOM);
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
    // Refused sends said so (UNAVAILABLE, or the socket closed).
    for (const f of failures) expect(f.error).toMatch(/UNAVAILABLE|closed|not open|timed out/i);
    // Each device goes on, on its socket or a new one, and sends its refused requests again
    // with the same ids, as the protocol asks. A send whose add Redis ran just before going
    // away was refused but stored: sent again, it must be answered that message, not stored twice.
    const after = await Promise.all(
      clients.map(async (c, i) => (c.isOpen ? c : (await connectAll(url, [devices[i]], ROOM))[0])),
    );
    for (const f of failures) acks.push(await sendAgain(after[f.client], ROOM, f.requestId));
    acks.push(...(await floodRoom(after, ROOM, 20)));
    expect(server.alive(), server.output().slice(-4000)).toBe(true);
    await storedOnce(db, ROOM, acks, 60_000);
    console.log(
      `redis restart: ${acks.length} acked and stored once, ${failures.length} refused while Redis was away and sent again`,
    );
    await Promise.all([...clients, ...after].map((c) => c.close()));
  }, 90_000);
});

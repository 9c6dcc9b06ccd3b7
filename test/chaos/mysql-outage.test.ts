import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../support/app.js';
import { connectAll, steadyLoad, storedOnce } from '../support/chaos.js';
import { eventually } from '../support/clients.js';
import {
  cannotRun,
  freePort,
  hasBinary,
  MARIADB_INSTALL_DB,
  MARIADBD,
  PrivateMariaDb,
} from '../support/private-services.js';
import { spawnServer, stopServer, type ServerProcess } from '../support/process.js';
import { deleteRedisKeys, servicesAvailable, uniquePrefix } from '../support/services.js';

/**
 * How long MySQL stays down. Small in CI; the 60 s outage is
 * `CHAOS_MYSQL_DOWN_MS=60000` (past ~60 s, jobs of the first seconds exhaust JOB_ATTEMPTS with
 * the default backoff and wait in the dead letter: the test then retries them, as an operator would).
 */
const DOWN_MS = Number(process.env.CHAOS_MYSQL_DOWN_MS ?? 8000);
/** `SIGKILL` (default: the server is gone, connections refused) or `SIGSTOP` (it hangs). */
const SIGNAL = (process.env.CHAOS_MYSQL_SIGNAL ?? 'SIGKILL') as 'SIGKILL' | 'SIGSTOP';
const ROOM = 'CHAOSDB1';
const DATABASE = 'roomcast_chaos';

const canRun = hasBinary(MARIADBD) && hasBinary(MARIADB_INSTALL_DB);

describe.runIf(servicesAvailable)(`chaos: MySQL down for ${DOWN_MS} ms under load (${SIGNAL})`, () => {
  if (!canRun) {
    const why = `${MARIADBD} and ${MARIADB_INSTALL_DB} are needed to run a private MariaDB (set RC_TEST_MARIADBD)`;
    cannotRun(why);
    return;
  }

  let mariadb: PrivateMariaDb;
  let server: ServerProcess;
  let db: Connection;
  const redisUrl = process.env.RC_TEST_REDIS_URL!;
  const prefix = uniquePrefix();
  let base: string;

  beforeAll(async () => {
    mariadb = new PrivateMariaDb(await freePort());
    mariadb.install();
    await mariadb.start();
    const admin = await createConnection(mariadb.url(''));
    await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4`);
    await admin.end();
    server = spawnServer({
      ROLE: 'all',
      DATABASE_URL: mariadb.url(DATABASE),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN,
      NODE_ID: 'chaos-db',
      LOG_LEVEL: 'warn',
    });
    base = `http://127.0.0.1:${await server.port}`;
  }, 90_000);

  afterAll(async () => {
    if (server) await stopServer(server);
    await db?.end().catch(() => undefined);
    await mariadb?.dispose();
    await deleteRedisKeys(redisUrl, prefix);
  });

  const health = async () => {
    const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: (await res.json()) as { error?: Record<string, { status: string }> } };
  };

  it(
    '/health names the database, sends are still acked, and once it is back every acked message is stored once',
    async () => {
      const url = `${base.replace('http', 'ws')}/ws`;
      const clients = await connectAll(url, ['db-a', 'db-b'], ROOM);
      expect((await health()).status).toBe(200);
      const load = steadyLoad(clients, ROOM, 20);
      await eventually(
        async () => load.acked(),
        (n) => n >= 50,
        10_000,
      );

      await mariadb.kill(SIGNAL);
      const downAt = Date.now();
      const down = await eventually(health, (h) => h.status === 503, 10_000);
      expect(down.body.error?.database, JSON.stringify(down.body)).toMatchObject({ status: 'down' });
      const ackedAtOutage = load.acked();
      await new Promise((r) => setTimeout(r, Math.max(0, DOWN_MS - (Date.now() - downAt))));
      // Sends went on being acked while MySQL was away: the queue is Redis.
      expect(load.acked()).toBeGreaterThan(ackedAtOutage + 20);
      expect(server.alive(), server.output().slice(-4000)).toBe(true);

      if (SIGNAL === 'SIGSTOP') await mariadb.kill('SIGCONT');
      else await mariadb.start();
      await eventually(health, (h) => h.status === 200, 60_000);
      const { acks, failures } = await load.stop();
      expect(failures, 'sends refused during the outage').toEqual([]);

      db = await createConnection(mariadb.url(DATABASE));
      // Jobs that ran out of attempts during a long outage wait in the dead letter: put them back.
      const failed = await fetch(`${base}/api/queues/messages/failed?limit=1`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }).then((r) => r.json() as Promise<{ jobs: unknown[] }>);
      if (failed.jobs.length) {
        console.log(`mysql outage: dead-lettered jobs after ${DOWN_MS} ms; retrying them`);
        await fetch(`${base}/api/queues/messages/retry-failed`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
      }
      await storedOnce(db, ROOM, acks, 60_000);
      console.log(
        `mysql outage: ${acks.length} acked (${acks.length - ackedAtOutage} after the outage began), all stored once`,
      );
      await Promise.all(clients.map((c) => c.close()));
    },
    DOWN_MS + 120_000,
  );
});

import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../support/app.js';
import { eventually } from '../support/clients.js';
import { spawnServer, stopServer, waitForOutput, type ServerProcess } from '../support/process.js';
import { provisionServices, servicesAvailable, type Services } from '../support/services.js';
import { connectAll, floodRoom, storedOnce } from '../support/chaos.js';

const ROOM = 'CHAOSWK1';
const CLIENTS = 4;
const PER_CLIENT = 750;
const JOB_LOCK_MS = '2000';

describe.runIf(servicesAvailable)(
  'chaos: the worker is killed mid-batch (ROLE=gateway + ROLE=worker)',
  () => {
    let services: Services;
    let db: Connection;
    let gateway: ServerProcess;
    const workers: ServerProcess[] = [];
    let env: Record<string, string>;

    beforeAll(async () => {
      services = await provisionServices();
      env = {
        DATABASE_URL: services.databaseUrl,
        REDIS_URL: services.redisUrl,
        REDIS_PREFIX: services.redisPrefix,
        ADMIN_TOKEN,
        // Jobs held by a killed worker are taken over after this long.
        JOB_LOCK_MS,
      };
      gateway = spawnServer({ ...env, ROLE: 'gateway', NODE_ID: 'chaos-gateway', LOG_LEVEL: 'warn' });
      await gateway.port;
      db = await createConnection(services.databaseUrl);
    });

    afterAll(async () => {
      await Promise.all([gateway, ...workers].filter(Boolean).map((p) => stopServer(p)));
      await db?.end();
      await services?.dispose();
    });

    const startWorker = async (name: string) => {
      const worker = spawnServer({ ...env, ROLE: 'worker', NODE_ID: name, DB_MIGRATIONS_RUN: 'false' });
      workers.push(worker);
      await waitForOutput(worker, /processing jobs/);
      return worker;
    };

    const rowCount = async () => {
      const [rows] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM messages WHERE room_id = ?', [
        ROOM,
      ]);
      return Number(rows[0].n);
    };

    it('SIGKILL while it writes: a new worker takes the jobs over; every acked message stored once', async () => {
      const first = await startWorker('chaos-worker-1');
      const url = `ws://127.0.0.1:${await gateway.port}/ws`;
      const clients = await connectAll(
        url,
        Array.from({ length: CLIENTS }, (_, i) => `wk-${i}`),
        ROOM,
      );

      // The kill: as soon as the worker has written its first rows, with the flood still going.
      let rowsAtKill = -1;
      const killer = (async () => {
        await eventually(rowCount, (n) => n > 0, 30_000);
        first.child.kill('SIGKILL');
        await first.exited;
        rowsAtKill = await rowCount();
      })();
      const acks = await floodRoom(clients, ROOM, PER_CLIENT);
      await killer;
      expect(first.alive()).toBe(false);
      expect(rowsAtKill, 'the worker was killed before it had written everything').toBeLessThan(acks.length);

      const restarted = Date.now();
      await startWorker('chaos-worker-2');
      await storedOnce(db, ROOM, acks, 60_000);
      console.log(
        `worker kill: ${acks.length} acked, ${rowsAtKill} stored at the kill; all stored once ${Date.now() - restarted} ms after the new worker started`,
      );
      expect(gateway.alive()).toBe(true);
      await Promise.all(clients.map((c) => c.close()));
    });
  },
);

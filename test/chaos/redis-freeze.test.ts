import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import type { RoomcastClient } from '#client';
import {
  type Acked,
  connectAll,
  type Refused,
  refusal,
  sendAgain,
  sendOne,
  serverOnPrivateRedis,
  storedOnce,
} from '../support/chaos.js';
import { eventually } from '../support/clients.js';
import { cannotRun, hasBinary, type PrivateRedis, REDIS_SERVER } from '../support/private-services.js';
import type { ServerProcess } from '../support/process.js';
import { servicesAvailable } from '../support/services.js';

const ROOMS = Array.from({ length: 8 }, (_, i) => `CHAOSFZ${i}`);
/** Sends each room's sender keeps under way. */
const WINDOW = 4;
/** Longer than an add waits (ENQUEUE_TIMEOUT_MS, 3 s) plus its lookup (VERIFY_TIMEOUT_MS, 1 s). */
const FROZEN_MS = 5500;

/**
 * Each sender (of ROOMS[i]) keeps WINDOW sends under way in its room until stopped. A refusal
 * waits a moment before the next send: a client whose socket is gone is refused at once, and
 * a loop of such refusals would never let a timer run (the test would hang, not fail).
 */
function keepBusy(senders: RoomcastClient[]) {
  let running = true;
  const acks: Acked[][] = senders.map(() => []);
  const refused: Refused[] = [];
  let k = 0;
  const loops = senders.flatMap((client, c) =>
    Array.from({ length: WINDOW }, async () => {
      while (running) {
        const requestId = `b${c}-${k++}`;
        try {
          acks[c].push(await sendOne(client, ROOMS[c], requestId));
        } catch (err) {
          refused.push(refusal(c, requestId, err));
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }),
  );
  return {
    acked: () => acks.reduce((n, a) => n + a.length, 0),
    async stop() {
      running = false;
      await Promise.all(loops);
      return { acks, refused };
    },
  };
}

/** Bytes a client sent that Redis has not read yet (Linux: /proc/net/tcp), on its connection from `clientPort`. */
function unread(redisPort: number, clientPort: number): number {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, , queues] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${hex(redisPort)}`) && remote?.endsWith(`:${hex(clientPort)}`))
      return Number.parseInt(queues.split(':')[1], 16);
  }
  return 0;
}

/**
 * Stops Redis (SIGSTOP) at a moment when the node's producer connection, which carries
 * only adds here, has sent a command Redis has not read: an add is on its way. Tries again,
 * thawing in between, until that is so.
 */
async function freezeWithAnAddOnItsWay(
  redis: PrivateRedis,
  producerName: string,
  server: ServerProcess,
): Promise<void> {
  const admin = new Redis(redis.url);
  const clients = (await admin.call('CLIENT', 'LIST')) as string;
  await admin.quit();
  const producer = clients.split('\n').find((line) => line.includes(` name=${producerName} `));
  if (!producer) throw new Error(`no client named ${producerName}:\n${clients}`);
  const port = Number(/ addr=[\d.]+:(\d+) /.exec(producer)![1]);
  for (let attempt = 1; attempt <= 1000; attempt++) {
    await redis.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 20));
    if (unread(redis.port, port) > 0) return;
    await redis.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, Math.random() * 10));
  }
  throw new Error(
    `no add was ever on its way when Redis stopped (server ${server.alive() ? 'running' : 'exited'}):\n` +
      server.output().slice(-4000),
  );
}

/**
 * Redis stops answering (SIGSTOP: a stall, a partition) while adds are on their way, then
 * carries on (SIGCONT) and runs them. A send whose add went unanswered was told UNAVAILABLE,
 * yet its message is stored: sent again with its id, it must get that message's ack, and the
 * room must hold it once. redis-restart.test.ts meets the same case only by chance.
 */
describe.runIf(servicesAvailable)('chaos: Redis frozen with adds on their way, then thawed', () => {
  if (!hasBinary(REDIS_SERVER)) {
    cannotRun(`${REDIS_SERVER} is not on PATH (a private Redis is needed to freeze)`);
    return;
  }

  const env = serverOnPrivateRedis('chaos-freeze');

  it('a send refused while its add went unanswered, stored after all, is answered its message when sent again', async () => {
    const { redis, server, db, base } = env;
    const url = `${base.replace('http', 'ws')}/ws`;
    // Busy senders, so that adds go out all the time.
    const senders = (await Promise.all(ROOMS.map((room, r) => connectAll(url, [`fz-${r}`], room)))).flat();
    const load = keepBusy(senders);
    await eventually(
      async () => load.acked(),
      (n) => n >= 500,
      10_000,
    );
    let stopped: Awaited<ReturnType<typeof load.stop>>;
    try {
      await freezeWithAnAddOnItsWay(redis, 'roomcast:chaos-freeze:producer:messages', server);
      await new Promise((r) => setTimeout(r, FROZEN_MS));
    } finally {
      // On failure too: senders left running would outlive the test (and its server).
      await redis.kill('SIGCONT');
      stopped = await load.stop();
    }
    const { acks, refused } = stopped;
    expect(server.alive(), server.output().slice(-4000)).toBe(true);
    for (const f of refused) expect(f.error).toMatch(/UNAVAILABLE/);

    // Refused, yet stored: found once the writer has caught up.
    const storedRefused = async () => {
      if (!refused.length) return 0;
      const [rows] = await db.query<RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM messages WHERE room_id IN (?) AND client_msg_id IN (?)',
        [ROOMS, refused.map((f) => f.requestId)],
      );
      return Number(rows[0].n);
    };
    const lateOnes = await eventually(storedRefused, (n) => n > 0, 10_000).catch(() => 0);
    expect(
      lateOnes,
      `of ${refused.length} refused sends, none was stored: the case was not met`,
    ).toBeGreaterThan(0);

    // Operators see them: counted as found stored, none left unsettled.
    const metric = async (series: string) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(
        text
          .split('\n')
          .find((line) => line.startsWith(`${series} `))
          ?.split(' ')[1] ?? 0,
      );
    };
    await eventually(
      () => metric('roomcast_job_adds_unsettled{queue="messages"}'),
      (n) => n === 0,
      10_000,
    );
    expect(
      await metric('roomcast_job_adds_unconfirmed_total{queue="messages",outcome="stored"}'),
    ).toBeGreaterThanOrEqual(lateOnes);

    for (const f of refused)
      acks[f.client].push(await sendAgain(senders[f.client], ROOMS[f.client], f.requestId));
    expect(server.alive(), server.output().slice(-4000)).toBe(true);
    for (const [r, room] of ROOMS.entries()) await storedOnce(db, room, acks[r], 60_000);
    console.log(
      `redis freeze: ${refused.length} sends refused, ${lateOnes} of them stored all the same; ` +
        `sent again, each was answered its stored message`,
    );
    await Promise.all(senders.map((c) => c.close()));
  }, 90_000);
});

import { RoomcastClient, type RoomcastRequestError } from '#client';
import { ErrorCode } from '#protocol';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, expect } from 'vitest';
import { ADMIN_TOKEN } from './app.js';
import { eventually } from './clients.js';
import { freePort, PrivateRedis } from './private-services.js';
import { spawnServer, stopServer, type ServerProcess } from './process.js';
import { provisionServices, type Services } from './services.js';

export interface Acked {
  requestId: string;
  message_id: string;
  seq?: number;
}

/** One handshaken client per device, all in `roomId`. */
export function connectAll(url: string, devices: string[], roomId: string): Promise<RoomcastClient[]> {
  return Promise.all(
    devices.map(async (device) => {
      const { client } = await RoomcastClient.connect(url, {
        device_id: device,
        identity: 'chaos',
        room_id: roomId,
      });
      return client;
    }),
  );
}

/** A send: the request id (also the idempotency key) is `<device>-<k>`, and so is its content. */
export async function sendOne(client: RoomcastClient, roomId: string, requestId: string): Promise<Acked> {
  const ack = await client.request(
    'message.send',
    { room_id: roomId, kind: 'text', content: requestId },
    { id: requestId, timeoutMs: 20_000 },
  );
  return { requestId, message_id: ack.message_id, seq: ack.seq };
}

/** `perClient` sends from each client, `window` in flight per client; every one must be acked. */
export async function floodRoom(
  clients: RoomcastClient[],
  roomId: string,
  perClient: number,
  window = 50,
): Promise<Acked[]> {
  const acks: Acked[] = [];
  await Promise.all(
    clients.map(async (client, c) => {
      for (let k = 0; k < perClient; k += window) {
        const n = Math.min(window, perClient - k);
        acks.push(
          ...(await Promise.all(
            Array.from({ length: n }, (_, j) => sendOne(client, roomId, `f${c}-${k + j}`)),
          )),
        );
      }
    }),
  );
  return acks;
}

/** A send that was not acked: by the client at `client` in the list given to steadyLoad. */
export interface Refused {
  client: number;
  requestId: string;
  /** Code and message. */
  error: string;
}

/** The Refused record of a send that failed with `err`. */
export function refusal(client: number, requestId: string, err: unknown): Refused {
  const { code, name, message } = err as Error & { code?: string };
  return { client, requestId, error: `${code ?? name} ${message}` };
}

/**
 * Sends a refused request again with its id, as the protocol asks, waiting as told while it
 * is answered CONFLICT (its first attempt not settled yet).
 */
export async function sendAgain(
  client: RoomcastClient,
  roomId: string,
  requestId: string,
  attempts = 10,
): Promise<Acked> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendOne(client, roomId, requestId);
    } catch (err) {
      const { code, retryAfterMs } = err as RoomcastRequestError;
      if (code !== ErrorCode.CONFLICT || attempt === attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, retryAfterMs ?? 1000));
    }
  }
}

export interface SteadyLoad {
  /** Stops sending and resolves once every send in flight is answered. */
  stop(): Promise<{ acks: Acked[]; failures: Refused[] }>;
  /** Acks so far. */
  acked(): number;
}

/** One send every `intervalMs` from each client, round the clients, until stopped. */
export function steadyLoad(clients: RoomcastClient[], roomId: string, intervalMs: number): SteadyLoad {
  const acks: Acked[] = [];
  const failures: Refused[] = [];
  const inFlight = new Set<Promise<void>>();
  let k = 0;
  const timer = setInterval(() => {
    for (const [c, client] of clients.entries()) {
      const requestId = `s${c}-${k}`;
      const p = sendOne(client, roomId, requestId).then(
        (ack) => void acks.push(ack),
        (err: unknown) => void failures.push(refusal(c, requestId, err)),
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    k++;
  }, intervalMs);
  return {
    acked: () => acks.length,
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return { acks, failures };
    },
  };
}

/**
 * Waits until the room has as many rows as acks, then checks that each acked message is
 * stored exactly once: one row per message id and per request id, the seqs of the acks.
 */
export async function storedOnce(
  db: Connection,
  roomId: string,
  acks: Acked[],
  timeoutMs: number,
): Promise<void> {
  const query = async () => {
    const [rows] = await db.query<RowDataPacket[]>(
      'SELECT message_id, client_msg_id, seq FROM messages WHERE room_id = ?',
      [roomId],
    );
    return rows as Array<{ message_id: string; client_msg_id: string; seq: string | number }>;
  };
  const rows = await eventually(query, (r) => r.length >= acks.length, timeoutMs).catch(
    async (err: Error) => {
      throw new Error(
        `${(await query()).length} of ${acks.length} acked messages stored: ${err.message.slice(0, 200)}`,
      );
    },
  );
  const count = (values: string[]) => {
    const seen = new Map<string, number>();
    for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
    return [...seen].filter(([, n]) => n > 1);
  };
  expect(count(rows.map((r) => r.client_msg_id)), 'request ids stored twice').toEqual([]);
  expect(count(rows.map((r) => String(r.seq))), 'seqs stored twice').toEqual([]);
  const stored = new Map(rows.map((r) => [r.message_id, r]));
  const missing = acks.filter((a) => !stored.has(a.message_id));
  expect(missing.slice(0, 10), `${missing.length} acked messages missing`).toEqual([]);
  expect(rows.length).toBe(acks.length);
  for (const a of acks) expect(Number(stored.get(a.message_id)!.seq)).toBe(a.seq);
}

export interface ServerOnPrivateRedis {
  redis: PrivateRedis;
  server: ServerProcess;
  /** The test's MySQL database. */
  db: Connection;
  /** http://127.0.0.1:<port> */
  base: string;
}

/**
 * For the tests of a describe block: a ROLE=all server (NODE_ID `nodeId`) on a Redis of the
 * file's own, which the tests may kill, freeze and restart, and the test run's MySQL. The
 * fields are set once beforeAll has run.
 */
export function serverOnPrivateRedis(nodeId: string, redisOptions: { persistent?: boolean } = {}) {
  const it = {} as ServerOnPrivateRedis;
  let services: Services | undefined;
  beforeAll(async () => {
    it.redis = new PrivateRedis(await freePort(), redisOptions);
    await it.redis.start();
    services = await provisionServices();
    it.server = spawnServer({
      ROLE: 'all',
      DATABASE_URL: services.databaseUrl,
      REDIS_URL: it.redis.url,
      REDIS_PREFIX: services.redisPrefix,
      ADMIN_TOKEN,
      NODE_ID: nodeId,
      LOG_LEVEL: 'error',
    });
    it.base = `http://127.0.0.1:${await it.server.port}`;
    it.db = await createConnection(services.databaseUrl);
  });
  afterAll(async () => {
    if (it.server) await stopServer(it.server);
    await it.db?.end();
    await services?.dispose();
    await it.redis?.dispose();
  });
  return it;
}

import { RoomcastClient, RoomcastRequestError } from '#client';
import type { MessageSendAck } from '#protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/clients.js';
import { disposeAllClusters, startCluster, type Cluster } from '../support/cluster.js';
import {
  freePort,
  hasBinary,
  PrivateRedis,
  REDIS_SERVER,
  requireServices,
} from '../support/private-services.js';
import { servicesAvailable } from '../support/services.js';

const hasRedisServer = hasBinary(REDIS_SERVER);

const title = hasRedisServer
  ? 'cluster of 2 nodes: Redis goes away and comes back (mysql+redis)'
  : `cluster of 2 nodes: Redis outage (mysql+redis; needs ${REDIS_SERVER} on PATH)`;

describe.runIf(servicesAvailable)(title, () => {
  if (!hasRedisServer) {
    if (requireServices) {
      it(`needs the ${REDIS_SERVER} binary (REQUIRE_SERVICES=1)`, () => {
        throw new Error(`${REDIS_SERVER} is not on PATH: install redis-server to run the Redis outage tests`);
      });
    } else {
      it.skip(`skipped: ${REDIS_SERVER} is not on PATH (a private Redis is needed to stop and restart)`);
    }
    return;
  }

  const ROOM = 'OUTAGE01';
  let redis: PrivateRedis;
  let cluster: Cluster;

  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    cluster = await startCluster(2, { REDIS_URL: redis.url, SHUTDOWN_TIMEOUT_MS: '8000' });
  });

  afterAll(async () => {
    await cluster?.dispose();
    await disposeAllClusters();
    await redis?.dispose();
  });

  const connect = (nodeIndex: number, device: string) => cluster.connect(nodeIndex, device, ROOM);

  const health = async (nodeIndex: number) => {
    const res = await fetch(`${cluster.nodes[nodeIndex].url}/health`, {
      signal: AbortSignal.timeout(10_000),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, Record<string, { status: string }>>,
    };
  };

  const send = (c: RoomcastClient, content: string, id?: string) =>
    c.request('message.send', { room_id: ROOM, kind: 'text', content }, { id, timeoutMs: 15_000 });

  it('no process exits, /health says Redis is down, and cross-node delivery comes back by itself', async () => {
    let a = await connect(0, 'out-a');
    let b = await connect(1, 'out-b');
    await a.waitFor('presence.join', (p) => p.device_id === 'out-b', 10_000);
    for (const c of [0, 1]) expect((await health(c)).status).toBe(200);

    // Both ways across nodes while Redis is up.
    const ab = await send(a, 'before a->b');
    await b.waitFor('message', (m) => m.message_id === ab.message_id, 10_000);
    const ba = await send(b, 'before b->a');
    await a.waitFor('message', (m) => m.message_id === ba.message_id, 10_000);

    // A broadcast in progress when Redis dies: 30 sends, Redis killed at the first ack.
    let killing: Promise<void> | undefined;
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, k) =>
        send(a, `during-${k}`).then((ack: MessageSendAck) => {
          killing ??= redis.kill();
          return ack;
        }),
      ),
    );
    await killing;
    expect(redis.running).toBe(false);
    // Each send either was acked or failed with an error; the server answered every one.
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RoomcastRequestError);
    }

    // Redis down: both processes stay up and say so on /health.
    for (const i of [0, 1]) {
      const res = await eventually(
        () => health(i),
        (h) => h.status === 503,
        10_000,
      );
      expect(res.body.error?.redis, `node-${i + 1} /health: ${JSON.stringify(res.body)}`).toMatchObject({
        status: 'down',
      });
      const live = await fetch(`${cluster.nodes[i].url}/health/live`);
      expect(live.status).toBe(200);
    }
    // A send now cannot be made durable: UNAVAILABLE, at once (not a hang, not a crash).
    const during = await send(a, 'while down').then(
      () => 'acked',
      (err: RoomcastRequestError) => err.code,
    );
    expect.soft(during, 'a send while Redis is down').toBe('UNAVAILABLE');
    for (const node of cluster.nodes) expect(node.alive(), `${node.id} exited:\n${node.output()}`).toBe(true);

    // Redis comes back (empty) on the same port.
    await redis.start();
    for (const i of [0, 1]) {
      await eventually(
        () => health(i),
        (h) => h.status === 200,
        20_000,
      );
    }
    for (const node of cluster.nodes) expect(node.alive(), `${node.id} exited:\n${node.output()}`).toBe(true);

    // The sockets may have been kept or not: a client that was closed connects again.
    const reopened: string[] = [];
    if (!a.isOpen) {
      reopened.push(`out-a (${(await a.closed).code})`);
      a = await connect(0, 'out-a');
    }
    if (!b.isOpen) {
      reopened.push(`out-b (${(await b.closed).code})`);
      b = await connect(1, 'out-b');
    }

    // Delivery across nodes resumes by itself: a send from node 1 reaches node 2 (sends that
    // fail with UNAVAILABLE while the nodes reconnect are tried again).
    const across = async (from: RoomcastClient, to: RoomcastClient, tag: string) => {
      let k = 0;
      const sent = new Set<string>();
      await eventually(
        async () => {
          const ack = await send(from, `${tag}-${k++}`).catch(() => undefined);
          if (ack) sent.add(ack.message_id);
          const got = to.drain('message').map((e) => e.data.message_id);
          return got.some((id) => sent.has(id));
        },
        (delivered) => delivered,
        30_000,
      ).catch((err: Error) => {
        throw new Error(
          `${tag}: not delivered across nodes after Redis came back (reopened: ${reopened.join(', ') || 'none'}): ${err.message}`,
        );
      });
    };
    await across(a, b, 'after a->b');
    await across(b, a, 'after b->a');
    for (const node of cluster.nodes) expect(node.alive()).toBe(true);
  });

  it('SIGTERM: the clients of the node get 1001 and the process exits 0', async () => {
    const node = cluster.nodes[1];
    const clients = [await connect(1, 'drain-1'), await connect(1, 'drain-2')];
    const stayed = await connect(0, 'drain-stay');
    const exit = await node.stop({ timeoutMs: 15_000 });
    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(closes.map((c) => c.code)).toEqual([1001, 1001]);
    expect(exit).toMatchObject({ code: 0, signal: null, forced: false });
    // The other node is untouched.
    expect(stayed.isOpen).toBe(true);
    expect(cluster.nodes[0].alive()).toBe(true);
  });
});

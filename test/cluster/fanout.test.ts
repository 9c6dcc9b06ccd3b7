import { RoomcastClient, type CloseInfo } from '#client';
import type { MessagePayload, PresenceChangeEvent, RoomInfoEvent, SystemEvent } from '#protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/clients.js';
import { disposeAllClusters, startCluster, storedMessages, type Cluster } from '../support/cluster.js';
import { servicesAvailable } from '../support/services.js';

/**
 * Three server processes sharing MySQL and Redis: rooms, direct messages, presence, kicks and
 * the admin API behave as one server, whichever node a client or an operator talks to.
 */
describe.runIf(servicesAvailable)('cluster of 3 nodes: one server (mysql+redis)', () => {
  let cluster: Cluster;
  const open: RoomcastClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster(3);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await cluster.closeClients();
  });

  afterAll(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await cluster?.dispose();
    await disposeAllClusters();
  });

  const connect = (nodeIndex: number, device: string, roomId?: string) =>
    cluster.connect(nodeIndex, device, roomId);

  const sorted = (xs: string[]) => [...xs].sort();
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('fans a room out across nodes: every member gets every message once, in seq order, with gap-free seqs', async () => {
    const ROOM = 'FANOUT01';
    const PER_CLIENT = 25;
    const devices = ['fan-a', 'fan-b', 'fan-c', 'fan-d', 'fan-e', 'fan-f'];
    // Two per node: fan-a, fan-d on node-1; fan-b, fan-e on node-2; fan-c, fan-f on node-3.
    const clients: RoomcastClient[] = [];
    for (const [i, d] of devices.entries()) clients.push(await connect(i % 3, d, ROOM));
    const received = clients.map(() => [] as MessagePayload[]);
    clients.forEach((c, i) => c.on('message', (m) => received[i].push(m)));

    // Everyone sends at once: 6 × 25 sends in flight through three nodes.
    const acks = await Promise.all(
      clients.map((c, i) =>
        Promise.all(
          Array.from({ length: PER_CLIENT }, (_, k) =>
            c.request('message.send', { room_id: ROOM, kind: 'text', content: `${devices[i]}:${k}` }),
          ),
        ),
      ),
    );
    const total = devices.length * PER_CLIENT;
    const allAcked = acks.flat();
    expect(allAcked.every((a) => typeof a.seq === 'number')).toBe(true);
    expect(allAcked.map((a) => a.seq).sort((a, b) => a! - b!)).toEqual(range(total));
    expect(new Set(allAcked.map((a) => a.message_id)).size).toBe(total);

    // A fence from two senders: once a client has one, in seq order nothing older can follow.
    const fences = [
      await clients[0].request('message.send', { room_id: ROOM, kind: 'text', content: 'fence' }),
      await clients[1].request('message.send', { room_id: ROOM, kind: 'text', content: 'fence' }),
    ];
    expect(fences.map((f) => f.seq)).toEqual([total + 1, total + 2]);
    await Promise.all(
      clients.map((c, i) => c.waitFor('message', (m) => m.seq === (i === 1 ? total + 1 : total + 2), 20_000)),
    );

    for (const [i, got] of received.entries()) {
      const seqs = got.map((m) => m.seq!);
      const label = `${devices[i]} received`;
      // Strictly increasing: in order, and no duplicate.
      expect(
        seqs.every((s, k) => k === 0 || s > seqs[k - 1]),
        `${label} out of order: ${seqs.join(',')}`,
      ).toBe(true);
      // Everything the others sent, nothing of its own (the sender gets the ack).
      const own = new Set(acks[i].map((a) => a.message_id));
      if (i === 0 || i === 1) own.add(fences[i].message_id);
      const expected = [...allAcked, ...fences]
        .filter((a) => !own.has(a.message_id))
        .map((a) => a.message_id);
      expect(sorted(got.map((m) => m.message_id)), label).toEqual(sorted(expected));
      // Its own acks and what it received make up 1..N exactly once.
      const ownSeqs = [...acks[i], ...(i < 2 ? [fences[i]] : [])].map((a) => a.seq!);
      expect(
        [...seqs, ...ownSeqs].sort((a, b) => a - b),
        label,
      ).toEqual(range(total + 2));
      for (const m of got) {
        expect(m.room_id).toBe(ROOM);
        expect(m.from.device_id).not.toBe(devices[i]);
        expect(String(m.content).startsWith(`${m.from.device_id}:`) || m.content === 'fence').toBe(true);
      }
    }

    // Stored once each: the seqs 1..N, one row per acked message.
    const stored = await eventually(
      () => storedMessages(cluster, ROOM),
      (messages) => messages.length >= total + 2,
      20_000,
    );
    expect(stored.map((m) => m.seq)).toEqual(range(total + 2));
    expect(sorted(stored.map((m) => m.message_id))).toEqual(
      sorted([...allAcked, ...fences].map((a) => a.message_id)),
    );
    // The same history from another node.
    expect((await storedMessages(cluster, ROOM, 2)).map((m) => m.message_id)).toEqual(
      stored.map((m) => m.message_id),
    );
  });

  it('times room messages accepted on another node once per message on the receiving node', async () => {
    const ROOM = 'FANOUTLAT';
    const latencyCount = async (nodeIndex: number) => {
      const text = await (await fetch(`${cluster.nodes[nodeIndex].url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('roomcast_delivery_latency_seconds_count '));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const sender = await connect(0, 'lat-sender', ROOM);
    const receiver = await connect(1, 'lat-receiver', ROOM);
    const before = await latencyCount(1);
    const last = receiver.waitFor('message', (m) => m.content === 'timed 3');
    for (let i = 1; i <= 3; i++) {
      await sender.request('message.send', { room_id: ROOM, kind: 'text', content: `timed ${i}` });
    }
    await last;
    expect((await latencyCount(1)) - before).toBe(3);
  });
  it('delivers direct messages live to a device on another node, both ways', async () => {
    const a = await connect(0, 'dm-a');
    const b = await connect(2, 'dm-b');
    const ab = await a.request('message.send', { to_device_id: 'dm-b', kind: 'text', content: 'hi b' });
    expect(ab.seq).toBeUndefined();
    const atB = await b.waitFor('message', (m) => m.message_id === ab.message_id, 10_000);
    expect(atB).toMatchObject({ to_device_id: 'dm-b', from: { device_id: 'dm-a' }, content: 'hi b' });

    const ba = await b.request('message.send', { to_device_id: 'dm-a', kind: 'text', content: 'hi a' });
    const atA = await a.waitFor('message', (m) => m.message_id === ba.message_id, 10_000);
    expect(atA).toMatchObject({ to_device_id: 'dm-a', from: { device_id: 'dm-b' }, content: 'hi a' });

    // Live means live: nothing waits in the inbox for the next handshake (on yet another node).
    await b.close();
    const { client, handshake } = await RoomcastClient.connect(cluster.nodes[1].ws, {
      device_id: 'dm-b',
      identity: 'id-dm-b',
    });
    open.push(client);
    expect(handshake.offline.map((o) => ('message_id' in o.data ? o.data.message_id : o.type))).not.toContain(
      ab.message_id,
    );
  });

  it('kicks a device from any node: system kicked, close 4403; 404 when it is connected nowhere', async () => {
    const victim = await connect(2, 'kick-me', 'KICKROOM');
    const systems: SystemEvent[] = [];
    victim.on('system', (s) => systems.push(s));

    const res = await cluster.admin(0, '/api/clients/kick-me', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ device_id: 'kick-me', kicked: true });
    const closed: CloseInfo = await victim.closed;
    expect(closed.code).toBe(4403);
    expect(systems.map((s) => s.kind)).toContain('kicked');

    // It is gone everywhere: no node kicks it again.
    for (const i of [0, 1, 2]) {
      const again = await cluster.admin(i, '/api/clients/kick-me', { method: 'DELETE' });
      expect(again.status, `node-${i + 1}`).toBe(404);
    }
    expect((await cluster.admin(1, '/api/clients/never-connected', { method: 'DELETE' })).status).toBe(404);
  });

  it('shows the same room members from every node; presence events cross nodes', async () => {
    const ROOM = 'PRESENCE';
    const p1 = await connect(0, 'pr-1', ROOM);
    const p2 = await connect(1, 'pr-2', ROOM);
    const joined2 = await p1.waitFor('presence.join', (p) => p.device_id === 'pr-2', 10_000);
    expect(joined2).toMatchObject({ room_id: ROOM, device_id: 'pr-2', identity: 'id-pr-2' });
    const p3 = await connect(2, 'pr-3', ROOM);
    await p1.waitFor('presence.join', (p) => p.device_id === 'pr-3', 10_000);
    await p2.waitFor('presence.join', (p) => p.device_id === 'pr-3', 10_000);

    const everyone = ['pr-1', 'pr-2', 'pr-3'];
    const nodeOf: Record<string, string> = { 'pr-1': 'node-1', 'pr-2': 'node-2', 'pr-3': 'node-3' };
    const members = [p1, p2, p3];
    const check = async (expected: string[]) => {
      for (const [i, c] of members.entries()) {
        if (!expected.includes(everyone[i])) continue;
        const info: RoomInfoEvent = await c.request('query_room', { room_id: ROOM });
        expect(info.total_clients, `room_info at node-${i + 1}`).toBe(expected.length);
        expect(sorted(info.clients.map((m) => m.device_id)), `room_info at node-${i + 1}`).toEqual(expected);
        const presence = await c.rawRequest<{
          room_id: string;
          members: Array<{ device_id: string; online: boolean }>;
        }>('presence', { room_id: ROOM });
        expect(sorted(presence.members.map((m) => m.device_id)), `presence at node-${i + 1}`).toEqual(
          expected,
        );
        expect(presence.members.every((m) => m.online)).toBe(true);
      }
      for (const i of [0, 1, 2]) {
        const { status, body } = await cluster.adminJson<{
          total_clients: number;
          members: Array<{ device_id: string; node_id: string }>;
        }>(i, `/api/rooms/${ROOM}`);
        expect(status).toBe(200);
        expect(body.total_clients, `GET /api/rooms at node-${i + 1}`).toBe(expected.length);
        expect(
          sorted(body.members.map((m) => `${m.device_id}@${m.node_id}`)),
          `GET /api/rooms at node-${i + 1}`,
        ).toEqual(expected.map((d) => `${d}@${nodeOf[d]}`));
      }
    };
    await check(everyone);

    await p3.request('room.leave', { room_id: ROOM });
    const left: PresenceChangeEvent[] = await Promise.all(
      [p1, p2].map((c) => c.waitFor('presence.leave', (p) => p.device_id === 'pr-3', 10_000)),
    );
    expect(left.map((l) => l.room_id)).toEqual([ROOM, ROOM]);
    await check(['pr-1', 'pr-2']);

    // A socket that closes leaves too, seen from the other nodes.
    await p2.close();
    await p1.waitFor('presence.leave', (p) => p.device_id === 'pr-2', 10_000);
    await check(['pr-1']);
  });

  it('lists clients and counts connections cluster-wide from every node', async () => {
    const ROOM = 'STATSRM1';
    await connect(0, 'st-1', ROOM);
    await connect(1, 'st-2', ROOM);
    await connect(2, 'st-3', ROOM);
    await connect(2, 'st-4', 'STATSRM2');

    type ClientRow = { device_id: string; node_id: string; session_id: string; rooms: string[] };
    const inRoom = await Promise.all(
      [0, 1, 2].map((i) => cluster.adminJson<{ clients: ClientRow[] }>(i, `/api/clients?room_id=${ROOM}`)),
    );
    for (const [i, { status, body }] of inRoom.entries()) {
      expect(status).toBe(200);
      expect(
        sorted(body.clients.map((c) => `${c.device_id}@${c.node_id}`)),
        `GET /api/clients?room_id at node-${i + 1}`,
      ).toEqual(['st-1@node-1', 'st-2@node-2', 'st-3@node-3']);
    }

    // A consistent snapshot: the lists agree and the stats (heartbeat figures) add up.
    const snapshot = await eventually(
      async () => {
        const lists = await Promise.all(
          [0, 1, 2].map((i) => cluster.adminJson<{ clients: ClientRow[] }>(i, '/api/clients')),
        );
        const stats = await Promise.all(
          [0, 1, 2].map((i) =>
            cluster.adminJson<{
              node_id: string;
              connections: number;
              rooms: number | null;
              cluster: {
                nodes: Array<{ node_id: string; connections: number }>;
                connections: number;
              } | null;
            }>(i, '/api/stats'),
          ),
        );
        return { lists: lists.map((l) => l.body.clients), stats: stats.map((s) => s.body) };
      },
      ({ lists, stats }) => {
        const keys = lists.map((l) => sorted(l.map((c) => `${c.device_id}@${c.node_id}#${c.session_id}`)));
        if (keys.some((k) => JSON.stringify(k) !== JSON.stringify(keys[0]))) return false;
        const all = lists[0];
        const byNode = (id: string) => all.filter((c) => c.node_id === id).length;
        return stats.every(
          (s, i) =>
            s.node_id === `node-${i + 1}` &&
            s.connections === byNode(s.node_id) &&
            s.cluster !== null &&
            sorted(s.cluster.nodes.map((n) => n.node_id)).join() === 'node-1,node-2,node-3' &&
            s.cluster.nodes.every((n) => n.connections === byNode(n.node_id)) &&
            s.cluster.connections === all.length &&
            s.cluster.nodes.reduce((sum, n) => sum + n.connections, 0) === s.cluster.connections,
        );
      },
      15_000,
    );
    // Rooms with at least one member, cluster-wide: those of the listed clients.
    const rooms = new Set(snapshot.lists[0].flatMap((c) => c.rooms)).size;
    for (const s of snapshot.stats) expect(s.rooms, `GET /api/stats at ${s.node_id}`).toBe(rooms);
    const { body: list } = await cluster.adminJson<{ clients: ClientRow[] }>(1, '/api/clients');
    expect(list.clients.find((c) => c.device_id === 'st-4')).toMatchObject({
      node_id: 'node-3',
      rooms: ['STATSRM2'],
    });
  });

  it('takes a device over across nodes: the old socket closes 4409, the new one works', async () => {
    const ROOM = 'TAKEOVR1';
    const observer = await connect(2, 'to-observer', ROOM);
    const old = await connect(0, 'to-dev', ROOM);
    await observer.waitFor('presence.join', (p) => p.device_id === 'to-dev', 10_000);

    const fresh = await connect(1, 'to-dev', ROOM);
    expect((await old.closed).code).toBe(4409);

    const ack = await fresh.request('message.send', { room_id: ROOM, kind: 'text', content: 'still me' });
    const got = await observer.waitFor('message', (m) => m.message_id === ack.message_id, 10_000);
    expect(got.from.device_id).toBe('to-dev');
    const back = await observer.request('message.send', { room_id: ROOM, kind: 'text', content: 'hello' });
    await fresh.waitFor('message', (m) => m.message_id === back.message_id, 10_000);

    // Listed once, on its new node, whoever is asked.
    const info = await observer.request('query_room', { room_id: ROOM });
    expect(sorted(info.clients.map((c) => c.device_id))).toEqual(['to-dev', 'to-observer']);
    for (const i of [0, 1, 2]) {
      const { body } = await cluster.adminJson<{ clients: Array<{ device_id: string; node_id: string }> }>(
        i,
        `/api/clients?room_id=${ROOM}`,
      );
      expect(sorted(body.clients.map((c) => `${c.device_id}@${c.node_id}`)), `node-${i + 1}`).toEqual([
        'to-dev@node-2',
        'to-observer@node-3',
      ]);
    }
  });
});

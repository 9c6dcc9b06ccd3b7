import { ReconnectingClient, RoomcastClient, type LifecycleEventMap } from '#client';
import type { MessagePayload, MessageSendAck, PresenceChangeEvent } from '#protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/clients.js';
import { disposeAllClusters, startCluster, storedMessages, type Cluster } from '../support/cluster.js';
import { servicesAvailable } from '../support/services.js';

const TIMEOUT_MS = 3000; // CLUSTER_NODE_TIMEOUT_MS of startCluster

/**
 * A node dies (SIGKILL) or drains (SIGTERM) in the middle of a stream of room messages. Clients
 * with ReconnectingClient, given every node's URL, move to another node and resume; nothing
 * acked is lost or stored twice; the survivors clean up after the dead node.
 */
describe.runIf(servicesAvailable)('cluster of 3 nodes: a node dies (mysql+redis)', () => {
  const ROOM = 'FAILOVER';
  let cluster: Cluster;

  interface Member {
    device: string;
    client: ReconnectingClient;
    /** Node index (0-based) of its first session. */
    startNode: number;
    received: MessagePayload[];
    acks: MessageSendAck[];
    gaps: Array<LifecycleEventMap['gap']>;
    disconnects: Array<LifecycleEventMap['disconnected']>;
    /** Sends that ended in an error (after the client's own retries). */
    failures: Array<{ content: string; error: string }>;
  }
  const members: Member[] = [];

  beforeAll(async () => {
    cluster = await startCluster(3);
  });

  afterAll(async () => {
    await Promise.all(members.map((m) => m.client.close()));
    await cluster?.dispose();
    await disposeAllClusters();
  });

  /** A ReconnectingClient given every node, starting with node `startNode`. */
  async function member(device: string, startNode: number): Promise<Member> {
    const ws = cluster.nodes.map((n) => n.ws);
    const urls = [...ws.slice(startNode), ...ws.slice(0, startNode)];
    const client = new ReconnectingClient(
      urls,
      { device_id: device, identity: `id-${device}`, room_id: ROOM },
      { initialDelayMs: 50, maxDelayMs: 2000, maxAttempts: 30 },
    );
    const m: Member = {
      device,
      client,
      startNode,
      received: [],
      acks: [],
      gaps: [],
      disconnects: [],
      failures: [],
    };
    client.on('message', (msg) => m.received.push(msg));
    client.on('gap', (g) => m.gaps.push(g));
    client.on('disconnected', (d) => m.disconnects.push(d));
    const handshake = await client.start();
    expect(handshake.connection.node_id).toBe(cluster.nodes[startNode].id);
    members.push(m);
    return m;
  }

  const plainClient = (nodeIndex: number, device: string) => cluster.connect(nodeIndex, device, ROOM);

  const sorted = (xs: string[]) => [...xs].sort();
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const allAcks = () => members.flatMap((m) => m.acks);

  const allFailures = () => members.flatMap((m) => m.failures.map((f) => ({ device: m.device, ...f })));

  /**
   * Each member sends `count` messages one after the other, paced, tagged with `tag`. A send
   * that fails (after the client's own retries) is recorded and the stream goes on, so the
   * rest of the test still checks a consistent state. `onSent` runs as each request has been
   * written, `onAck` as each is acked.
   */
  async function stream(
    count: number,
    tag: string,
    hooks: { onSent?: (m: Member) => void; onAck?: () => void } = {},
  ): Promise<void> {
    await Promise.all(
      members.map(async (m) => {
        for (let k = 0; k < count; k++) {
          const content = `${m.device}:${tag}:${k}`;
          try {
            const pending = m.client.request('message.send', { room_id: ROOM, kind: 'text', content });
            hooks.onSent?.(m);
            m.acks.push(await pending);
            hooks.onAck?.();
          } catch (err) {
            const e = err as { code?: string; message: string };
            m.failures.push({ content, error: `${e.code ?? 'ERROR'}: ${e.message}` });
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
  }

  /** Every member got every message the others had acked, once each, in increasing seq order. */
  async function expectEveryoneGotEverything(who: Member[]): Promise<void> {
    const acked = allAcks();
    for (const m of who) {
      const own = new Set(m.acks.map((a) => a.message_id));
      const expected = acked.filter((a) => !own.has(a.message_id)).map((a) => a.message_id);
      await eventually(
        async () => new Set(m.received.map((r) => r.message_id)),
        (got) => expected.every((id) => got.has(id)),
        20_000,
      ).catch((err: Error) => {
        const got = new Set(m.received.map((r) => r.message_id));
        const missing = acked.filter((a) => !own.has(a.message_id) && !got.has(a.message_id));
        throw new Error(
          `${m.device}: ${missing.length} acked message(s) never delivered, seqs ${missing.map((a) => a.seq).join(',')}; gaps ${JSON.stringify(m.gaps)}: ${err.message.slice(0, 200)}`,
        );
      });
      const seqs = m.received.map((r) => r.seq!);
      expect(
        seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
        `${m.device}: seqs not strictly increasing`,
      ).toBe(true);
      const ids = m.received.map((r) => r.message_id);
      expect(new Set(ids).size, `${m.device}: a message delivered twice`).toBe(ids.length);
      // A hole the client could not fill may only be one of its own messages (it has the ack).
      const ownSeqs = new Set(m.acks.map((a) => a.seq));
      const hidden = m.gaps
        .flatMap((g) => Array.from({ length: g.to_seq - g.from_seq + 1 }, (_, i) => g.from_seq + i))
        .filter((s) => !ownSeqs.has(s));
      if (hidden.length) {
        // What those seqs are (persistence may trail a little: give it a few seconds).
        const stored = await eventually(
          () => storedMessages(cluster, ROOM, 0),
          (rows) => hidden.every((h) => rows.some((r) => r.seq === h)),
          5000,
        ).catch(() => storedMessages(cluster, ROOM, 0));
        const failed = new Set(allFailures().map((f) => f.content));
        const what = hidden.map((s) => {
          const row = stored.find((r) => r.seq === s);
          if (!row) return `seq ${s}: not stored`;
          const acker = members.find((x) => x.acks.some((a) => a.message_id === row.message_id));
          return `seq ${s}: ${JSON.stringify(row.content)} from ${row.from.device_id}, ${
            acker ? 'acked' : failed.has(String(row.content)) ? 'its send failed' : 'never acked'
          }`;
        });
        expect.fail(`${m.device} never got (gap events ${JSON.stringify(m.gaps)}): ${what.join('; ')}`);
      }
    }
  }

  /**
   * Stored exactly once: one row per acked message, seqs 1..N with no gap. A send that failed
   * may or may not have been stored (at most once); nothing else may be.
   */
  async function expectStoredOnce(): Promise<Map<string, number>> {
    const acked = allAcks();
    const stored = await eventually(
      () => storedMessages(cluster, ROOM, 0),
      (messages) => acked.every((a) => messages.some((s) => s.message_id === a.message_id)),
      20_000,
    );
    expect(new Set(stored.map((s) => s.message_id)).size, 'a message stored twice').toBe(stored.length);
    expect(stored.map((s) => s.seq)).toEqual(range(stored.length));
    const ackedIds = new Set(acked.map((a) => a.message_id));
    const failed = new Set(allFailures().map((f) => f.content));
    const extra = stored.filter((s) => !ackedIds.has(s.message_id));
    expect(
      extra.filter((s) => !failed.has(String(s.content))).map((s) => [s.seq, s.content]),
      'stored but neither acked nor failed',
    ).toEqual([]);
    const contents = stored.map((s) => String(s.content));
    expect(contents.length - new Set(contents).size, 'one send stored as two messages').toBe(0);
    // The acks name the stored seqs.
    const seqOf = new Map(stored.map((s) => [s.message_id, s.seq]));
    for (const a of acked) expect(a.seq).toBe(seqOf.get(a.message_id));
    return new Map(stored.map((s) => [String(s.content), s.seq]));
  }

  /** Sends that failed should not have (checked last, with whether each was stored anyway). */
  function expectNoFailedSends(failures: ReturnType<typeof allFailures>, stored: Map<string, number>): void {
    expect(
      failures.map((f) => ({ ...f, stored_seq: stored.get(f.content) ?? null })),
      'sends that failed (after the client retries)',
    ).toEqual([]);
  }

  it('SIGKILL mid-stream: its clients move on, every acked message is delivered once and stored once, the dead members leave once', async () => {
    const observer = await plainClient(0, 'fo-observer');
    const presence: Array<{ type: 'join' | 'leave'; p: PresenceChangeEvent }> = [];
    observer.on('presence.join', (p) => presence.push({ type: 'join', p }));
    observer.on('presence.leave', (p) => presence.push({ type: 'leave', p }));

    // Two members per node, each given the three URLs starting with its own node.
    for (let i = 0; i < 6; i++) await member(`fo-${i + 1}`, i % 3);
    // Two plain clients on the node that dies: they do not come back.
    const ghosts = ['ghost-1', 'ghost-2'];
    for (const g of ghosts) await plainClient(1, g);
    await eventually(
      async () => presence.filter((e) => e.type === 'join').map((e) => e.p.device_id),
      (joined) =>
        ['fo-1', 'fo-2', 'fo-3', 'fo-4', 'fo-5', 'fo-6', ...ghosts].every((d) => joined.includes(d)),
    );

    const victims = members.filter((m) => m.startNode === 1);
    const stayed = members.filter((m) => m.startNode !== 1);
    const PER_MEMBER = 40;
    const killAt = (members.length * PER_MEMBER) / 3;
    let acked = 0;
    let killedAt: number | undefined;
    const dead = cluster.nodes[1];
    await stream(PER_MEMBER, 'a', {
      onAck: () => void ++acked,
      // A third of the way in, a few ms after one of the node's clients wrote a send: the node
      // dies with that send (and maybe others) in progress.
      onSent: (m) => {
        if (killedAt === undefined && acked >= killAt && m === victims[0]) {
          killedAt = Date.now();
          setTimeout(() => dead.kill('SIGKILL'), 3);
        }
      },
    });
    expect(killedAt).toBeDefined();
    expect((await dead.exited).signal).toBe('SIGKILL');
    // A direct message to a device of the dead node, before the survivors noticed: kept for it.
    const dmEarly = await stayed[0].client.request('message.send', {
      to_device_id: 'ghost-2',
      kind: 'text',
      content: 'while your node was dying',
    });

    // The node's clients lost their socket, came back on another node and finished their stream.
    for (const v of victims) {
      expect(v.disconnects.length, v.device).toBeGreaterThanOrEqual(1);
      expect(v.client.session?.node_id, v.device).not.toBe(dead.id);
      expect(v.client.isOpen).toBe(true);
    }
    for (const s of stayed) expect(s.disconnects, s.device).toEqual([]);
    expect(allAcks().length + allFailures().length).toBe(members.length * PER_MEMBER);

    await expectEveryoneGotEverything(members);
    const stored = await expectStoredOnce();

    // Node-death cleanup: each ghost leaves once, seen from a node that stayed.
    const leavesOf = (d: string) => presence.filter((e) => e.type === 'leave' && e.p.device_id === d);
    await eventually(
      async () => ghosts.map((g) => leavesOf(g).length),
      (counts) => counts.every((c) => c >= 1),
      TIMEOUT_MS + 10_000,
    );
    // The survivors forget the dead node and its members.
    await eventually(
      async () => {
        const info = await observer.request('query_room', { room_id: ROOM });
        return sorted(info.clients.map((c) => c.device_id));
      },
      (devices) => !devices.some((d) => ghosts.includes(d)),
      TIMEOUT_MS + 10_000,
    );
    const expectedMembers = sorted(['fo-observer', ...members.map((m) => m.device)]);
    for (const i of [0, 2]) {
      const detail = await eventually(
        () =>
          cluster.adminJson<{
            total_clients: number;
            members: Array<{ device_id: string; node_id: string }>;
          }>(i, `/api/rooms/${ROOM}`),
        ({ body }) => !body.members.some((m) => m.node_id === dead.id),
        TIMEOUT_MS + 10_000,
      );
      expect(sorted(detail.body.members.map((m) => m.device_id)), `node-${i + 1}`).toEqual(expectedMembers);
      expect(detail.body.total_clients).toBe(expectedMembers.length);
      const clients = await cluster.adminJson<{ clients: Array<{ device_id: string; node_id: string }> }>(
        i,
        '/api/clients',
      );
      expect(clients.body.clients.filter((c) => c.node_id === dead.id)).toEqual([]);
      const stats = await eventually(
        () => cluster.adminJson<{ cluster: { nodes: Array<{ node_id: string }> } | null }>(i, '/api/stats'),
        ({ body }) => body.cluster !== null && !body.cluster.nodes.some((n) => n.node_id === dead.id),
        TIMEOUT_MS + 10_000,
      );
      expect(sorted(stats.body.cluster!.nodes.map((n) => n.node_id))).toEqual(['node-1', 'node-3']);
    }
    const info = await observer.request('query_room', { room_id: ROOM });
    expect(sorted(info.clients.map((c) => c.device_id))).toEqual(expectedMembers);

    // A message after the cleanup reaches everyone: the room still fans out over the survivors.
    const after = await stayed[0].client.request('message.send', {
      room_id: ROOM,
      kind: 'text',
      content: 'after',
    });
    stayed[0].acks.push(after);
    await observer.waitFor('message', (m) => m.message_id === after.message_id, 10_000);
    await expectEveryoneGotEverything(members);

    // Exactly one leave per ghost, by now several sweeps after the death. A victim's last event
    // is a join: whatever its takeover produced, the cleanup did not remove it afterwards.
    expect(ghosts.map((g) => leavesOf(g).length)).toEqual([1, 1]);
    for (const v of victims) {
      const events = presence.filter((e) => e.p.device_id === v.device);
      expect(events.at(-1)?.type, `${v.device}: ${events.map((e) => e.type).join(',')}`).toBe('join');
    }

    // Its device routes are gone too: a direct message now is kept for the next handshake, and
    // the ghosts, back on a node that stayed, get both.
    const dmLate = await stayed[1].client.request('message.send', {
      to_device_id: 'ghost-1',
      kind: 'text',
      content: 'after your node died',
    });
    for (const [g, dm] of [
      ['ghost-1', dmLate],
      ['ghost-2', dmEarly],
    ] as const) {
      const { client, handshake } = await RoomcastClient.connect(cluster.nodes[0].ws, {
        device_id: g,
        identity: `id-${g}`,
      });
      const offline = handshake.offline.map((o) => ('message_id' in o.data ? o.data.message_id : o.type));
      await client.close();
      expect(offline, `${g}: offline items`).toContain(dm.message_id);
    }

    // A send in flight on the dead node is resent (same id) on the next one and acked there.
    expectNoFailedSends(allFailures(), stored);
  });

  it('SIGTERM: its clients get 1001, move to the remaining node, and nothing is lost', async () => {
    const draining = cluster.nodes[2];
    const onDraining = members.filter((m) => m.client.session?.node_id === draining.id);
    expect(onDraining.length).toBeGreaterThan(0);
    const before = onDraining.map((m) => m.disconnects.length);

    let acked = 0;
    let stopped: Promise<{ code: number | null; forced: boolean }> | undefined;
    const failedBefore = allFailures().length;
    await stream(10, 'b', {
      onAck: () => {
        if (++acked === 15) stopped = draining.stop();
      },
    });
    const exit = await stopped!;
    expect(exit).toMatchObject({ code: 0, forced: false });

    for (const [i, m] of onDraining.entries()) {
      expect(
        m.disconnects.slice(before[i]).map((d) => d.code),
        m.device,
      ).toContain(1001);
      expect(m.client.session?.node_id, m.device).toBe('node-1');
    }
    await expectEveryoneGotEverything(members);
    const stored = await expectStoredOnce();
    expectNoFailedSends(allFailures().slice(failedBefore), stored);
  });
});

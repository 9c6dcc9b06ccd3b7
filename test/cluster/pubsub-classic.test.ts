import { RoomcastClient } from '#client';
import type { MessagePayload, SystemEvent } from '#protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeAllClusters, startCluster, type Cluster } from '../support/cluster.js';
import { servicesAvailable } from '../support/services.js';

/**
 * CLUSTER_PUBSUB=classic (PUBLISH/SUBSCRIBE, for Redis before 7 or proxies without sharded
 * pub/sub): the same behaviour as the sharded default that the other cluster files use.
 */
describe.runIf(servicesAvailable)('cluster of 2 nodes with CLUSTER_PUBSUB=classic (mysql+redis)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(2, { CLUSTER_PUBSUB: 'classic' });
  });

  afterAll(async () => {
    await cluster?.dispose();
    await disposeAllClusters();
  });

  const connect = (nodeIndex: number, device: string, roomId?: string) =>
    cluster.connect(nodeIndex, device, roomId);

  it('fans room messages out across nodes, once each and in seq order', async () => {
    const ROOM = 'CLASSIC1';
    const devices = ['cl-a', 'cl-b', 'cl-c', 'cl-d'];
    const clients: RoomcastClient[] = [];
    for (const [i, d] of devices.entries()) clients.push(await connect(i % 2, d, ROOM));
    // The nodes listen with SUBSCRIBE, not SSUBSCRIBE.
    const redis = new Redis(cluster.services.redisUrl);
    try {
      const pattern = `${cluster.services.redisPrefix}*`;
      const channels = (await redis.call('PUBSUB', 'CHANNELS', pattern)) as string[];
      const shardChannels = (await redis.call('PUBSUB', 'SHARDCHANNELS', pattern)) as string[];
      expect(
        channels.some((c) => c.includes(ROOM)),
        JSON.stringify(channels),
      ).toBe(true);
      expect(shardChannels).toEqual([]);
    } finally {
      redis.disconnect();
    }
    const received = clients.map(() => [] as MessagePayload[]);
    clients.forEach((c, i) => c.on('message', (m) => received[i].push(m)));

    const acks = await Promise.all(
      clients.map((c, i) =>
        Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            c.request('message.send', { room_id: ROOM, kind: 'text', content: `${devices[i]}:${k}` }),
          ),
        ),
      ),
    );
    expect(
      acks
        .flat()
        .map((a) => a.seq)
        .sort((a, b) => a! - b!),
    ).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // A fence from each node: in seq order nothing older can come after it.
    const fences = [
      await clients[0].request('message.send', { room_id: ROOM, kind: 'text', content: 'fence' }),
      await clients[1].request('message.send', { room_id: ROOM, kind: 'text', content: 'fence' }),
    ];
    await Promise.all(
      clients.map((c, i) =>
        c.waitFor('message', (m) => m.message_id === fences[i === 1 ? 0 : 1].message_id, 10_000),
      ),
    );
    for (const [i, got] of received.entries()) {
      const own = new Set([...acks[i], ...(i < 2 ? [fences[i]] : [])].map((a) => a.message_id));
      const expected = [...acks.flat(), ...fences].filter((a) => !own.has(a.message_id));
      const seqs = got.map((m) => m.seq!);
      expect(seqs, devices[i]).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size, devices[i]).toBe(seqs.length);
      expect(got.map((m) => m.message_id).sort(), devices[i]).toEqual(
        expected.map((a) => a.message_id).sort(),
      );
    }
  });

  it('delivers direct messages and kicks across nodes', async () => {
    const a = await connect(0, 'cl-dm-a');
    const b = await connect(1, 'cl-dm-b');
    const ack = await a.request('message.send', { to_device_id: 'cl-dm-b', kind: 'text', content: 'psst' });
    await expect(b.waitFor('message', (m) => m.message_id === ack.message_id, 10_000)).resolves.toMatchObject(
      {
        from: { device_id: 'cl-dm-a' },
        content: 'psst',
      },
    );

    const systems: SystemEvent[] = [];
    b.on('system', (s) => systems.push(s));
    const res = await cluster.admin(0, '/api/clients/cl-dm-b', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect((await b.closed).code).toBe(4403);
    expect(systems.map((s) => s.kind)).toContain('kicked');
  });
});

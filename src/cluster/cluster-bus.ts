import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { AppConfig } from '../config/app-config.js';
import type { RedisKeys } from '../redis/redis.module.js';

/**
 * What travels between nodes. The frame the clients get travels as the body, serialised
 * once by the node where it was produced; the header says who gets it.
 */
export type BusHeader =
  /**
   * A frame for a room's members (`s`: seq for room messages, so receivers keep seq order;
   * `a`: when the message was accepted, ms since the epoch, for the delivery latency;
   * `v`: volatile, typing or presence, skipped first for slow clients).
   */
  | { t: 'room'; r: string; x?: string; s?: number; a?: number; bin?: 1; v?: 1 }
  /** The room was deleted: its members get the body, then leave it. */
  | { t: 'room.closed'; r: string }
  /** A frame for one device; `keep`: store it in its inbox if it turns out not to be here. */
  | { t: 'device'; d: string; keep?: { kind: string; key: string }; v?: 1 }
  | { t: 'kick'; d: string; reason: string }
  /** Another node took the device over: close this session with 4409. */
  | { t: 'replaced'; d: string; sid: string }
  /** A frame for every client. */
  | { t: 'all' };

export type BusHandler = (header: BusHeader, body: Buffer) => void;

/**
 * How nodes reach each other. The embedded process has nobody to reach (LocalBus); a
 * cluster uses Redis pub/sub: one channel per room (subscribed while this node has
 * members in it), one per node, one for everyone.
 */
export abstract class ClusterBus {
  private readonly handlers: BusHandler[] = [];
  /** False in one process: nothing to publish, nothing arrives. */
  abstract readonly distributed: boolean;

  onMessage(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  /** Resolves once this node listens to the room (at once when Redis is unreachable: it does on reconnect). */
  abstract subscribeRoom(roomId: string): Promise<void>;
  protected dispatch(header: BusHeader, body: Buffer): void {
    for (const handler of this.handlers) handler(header, body);
  }

  abstract unsubscribeRoom(roomId: string): void;
  /** To the room's members on the other nodes. */
  abstract publishRoom(roomId: string, header: BusHeader, body: Buffer): void;
  /** To one node; resolves false when no live node listens there (it died, or Redis is down). */
  abstract publishNode(nodeId: string, header: BusHeader, body: Buffer): Promise<boolean>;
  /** To every other node. */
  abstract publishAll(header: BusHeader, body: Buffer): void;
}

/** One process: there are no other nodes. */
export class LocalBus extends ClusterBus {
  readonly distributed = false;
  async subscribeRoom(): Promise<void> {}
  unsubscribeRoom(): void {}
  publishRoom(): void {}
  async publishNode(): Promise<boolean> {
    return false;
  }
  publishAll(): void {}
}

interface Envelope {
  /** The node that published it: it never takes its own messages back. */
  o: string;
  h: BusHeader;
}

/** Envelope JSON, a newline, then the frame bytes untouched. */
function encode(envelope: Envelope, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify(envelope)}\n`), body]);
}

function decode(message: Buffer): { envelope: Envelope; body: Buffer } {
  const newline = message.indexOf(10);
  return {
    envelope: JSON.parse(message.subarray(0, newline).toString()) as Envelope,
    body: message.subarray(newline + 1),
  };
}

const SUBSCRIBE_CHUNK = 500;

/**
 * Redis pub/sub between nodes. Sharded (SSUBSCRIBE/SPUBLISH) on Redis 7+, so each room's
 * channel lives on one shard of a Redis Cluster; classic PUBLISH otherwise. The subscriber
 * connection re-subscribes everything wanted each time it (re)connects, so a Redis restart
 * heals by itself; what was published while it was away is gone (live frames only: room
 * messages are also in the room log, and clients resume from it).
 */
export class RedisBus extends ClusterBus implements OnApplicationShutdown {
  private readonly logger = new Logger('ClusterBus');
  private readonly sub: Redis;
  private readonly rooms = new Set<string>();
  private sharded?: boolean;
  private readonly published: Counter<'channel'>;
  private readonly publishFailures: Counter<'channel'>;
  private readonly received: Counter<'channel'>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly config: AppConfig,
    registry: Registry,
  ) {
    super();
    this.published = new Counter({
      name: 'roomcast_cluster_published_total',
      help: 'Messages this node published to other nodes, by channel kind',
      labelNames: ['channel'],
      registers: [registry],
    });
    this.publishFailures = new Counter({
      name: 'roomcast_cluster_publish_failures_total',
      help: 'Publishes to other nodes that failed (Redis unreachable), by channel kind',
      labelNames: ['channel'],
      registers: [registry],
    });
    this.received = new Counter({
      name: 'roomcast_cluster_received_total',
      help: 'Messages received from other nodes, by channel kind',
      labelNames: ['channel'],
      registers: [registry],
    });
    this.sub = redis.duplicate({
      autoResubscribe: false,
      enableOfflineQueue: true,
      connectionName: `roomcast:${config.NODE_ID}:bus`,
    });
    this.sub.on('error', () => undefined); // the command connection already logs outages
    this.sub.on('ready', () => void this.resubscribe());
    this.sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.receive(message));
    this.sub.on('smessageBuffer', (_channel: Buffer, message: Buffer) => this.receive(message));
  }

  readonly distributed = true;

  async subscribeRoom(roomId: string): Promise<void> {
    if (this.rooms.has(roomId)) return;
    this.rooms.add(roomId);
    if (this.ready) await this.subscribe([this.roomChannel(roomId)]);
  }

  unsubscribeRoom(roomId: string): void {
    if (!this.rooms.delete(roomId) || !this.ready) return;
    const channel = this.roomChannel(roomId);
    (this.sharded ? this.sub.sunsubscribe(channel) : this.sub.unsubscribe(channel)).catch(() => undefined);
  }

  publishRoom(roomId: string, header: BusHeader, body: Buffer): void {
    void this.publish(this.roomChannel(roomId), 'room', header, body);
  }

  async publishNode(nodeId: string, header: BusHeader, body: Buffer): Promise<boolean> {
    return (await this.publish(this.keys.key('bus', 'node', nodeId), 'node', header, body)) > 0;
  }

  publishAll(header: BusHeader, body: Buffer): void {
    void this.publish(this.keys.key('bus', 'all'), 'all', header, body);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sub.quit().catch(() => this.sub.disconnect());
  }

  private get ready(): boolean {
    return this.sub.status === 'ready' && this.sharded !== undefined;
  }

  private roomChannel(roomId: string): string {
    return this.keys.key('bus', 'room', roomId);
  }

  /** Receivers that got it (0 when none, or when Redis could not be reached). */
  private async publish(channel: string, kind: string, header: BusHeader, body: Buffer): Promise<number> {
    if (this.sharded === undefined) {
      this.publishFailures.inc({ channel: kind });
      return 0;
    }
    try {
      const message = encode({ o: this.config.NODE_ID, h: header }, body);
      const receivers = Number(
        this.sharded
          ? await this.redis.spublish(channel, message)
          : await this.redis.publish(channel, message),
      );
      this.published.inc({ channel: kind });
      return receivers;
    } catch {
      this.publishFailures.inc({ channel: kind });
      return 0;
    }
  }

  private receive(message: Buffer): void {
    let decoded: ReturnType<typeof decode>;
    try {
      decoded = decode(message);
    } catch (err) {
      this.logger.warn(`unreadable cluster message dropped: ${(err as Error).message}`);
      return;
    }
    if (decoded.envelope.o === this.config.NODE_ID) return;
    this.received.inc({ channel: decoded.envelope.h.t });
    this.dispatch(decoded.envelope.h, decoded.body);
  }

  private async resubscribe(): Promise<void> {
    try {
      if (this.sharded === undefined) this.sharded = await this.detectSharded();
      const channels = [
        this.keys.key('bus', 'node', this.config.NODE_ID),
        this.keys.key('bus', 'all'),
        ...[...this.rooms].map((r) => this.roomChannel(r)),
      ];
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK)
        await this.subscribe(channels.slice(i, i + SUBSCRIBE_CHUNK));
    } catch (err) {
      this.logger.error(`cluster subscriptions not restored: ${(err as Error).message}`);
    }
  }

  private async subscribe(channels: string[]): Promise<void> {
    try {
      // Channels of different rooms may sit on different shards: one command per channel then.
      if (this.sharded) await Promise.all(channels.map((c) => this.sub.ssubscribe(c)));
      else await this.sub.subscribe(...channels);
    } catch (err) {
      this.logger.warn(`subscribe failed (retried on reconnect): ${(err as Error).message}`);
    }
  }

  private async detectSharded(): Promise<boolean> {
    if (this.config.CLUSTER_PUBSUB !== 'auto') return this.config.CLUSTER_PUBSUB === 'sharded';
    const info = await this.sub.info('server');
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
    const sharded = major >= 7;
    this.logger.log(`Redis ${major}: ${sharded ? 'sharded' : 'classic'} pub/sub between nodes`);
    return sharded;
  }
}

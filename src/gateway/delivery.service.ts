import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { PresenceChangeEvent, ServerEventMap, SystemEvent } from '#protocol';
import { Gauge, Registry } from 'prom-client';
import { type BusHeader, ClusterBus } from '../cluster/cluster-bus.js';
import { LiveDelivery, type KeepOffline } from '../common/live-delivery.js';
import { Lifecycle, type MembershipEvent, type MessageCreatedEvent } from '../common/lifecycle-events.js';
import { AppConfig } from '../config/app-config.js';
import { RoomLog } from '../messaging/room-log.js';
import type { OfflineKind } from '../offline/offline.service.js';
import { OfflineService } from '../offline/offline.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { ConnectionRegistry, type RoomListener } from './connection-registry.js';
import { WireFrame } from './connection.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { RoomSequencer } from './room-sequencer.js';

/**
 * Turns domain events into frames for clients, on this node's sockets and, through the
 * cluster bus, on the other nodes'. Each frame is serialised once, where it is produced; the
 * same bytes are written to every local recipient and published once for the cluster. Room
 * messages are delivered in seq order (RoomSequencer) whichever node accepted them.
 */
@Injectable()
export class DeliveryService extends LiveDelivery implements RoomListener {
  private readonly logger = new Logger('Delivery');
  private readonly sequencer?: RoomSequencer;
  private readonly subscriptions = new Map<string, Promise<void>>();

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly metrics: GatewayMetrics,
    private readonly bus: ClusterBus,
    private readonly presence: PresenceService,
    private readonly offline: OfflineService,
    private readonly log: RoomLog,
    private readonly config: AppConfig,
    metricsRegistry: Registry,
  ) {
    super();
    registry.listen(this);
    bus.onMessage((header, body) => this.fromBus(header, body));
    if (bus.distributed) {
      const sequencer = (this.sequencer = new RoomSequencer(config.CLUSTER_REORDER_WAIT_MS));
      new Gauge({
        name: 'roomcast_cluster_reorder_waiting',
        help: 'Room messages held until an earlier seq from another node arrives',
        registers: [metricsRegistry],
        collect() {
          this.set(sequencer.waiting);
        },
      });
    }
  }

  opened(roomId: string): Promise<void> {
    let subscribed = this.subscriptions.get(roomId);
    if (!subscribed) {
      subscribed = this.bus.subscribeRoom(roomId);
      this.subscriptions.set(roomId, subscribed);
      // The room's seq is read once this node listens: everything after it will arrive.
      this.sequencer?.open(
        roomId,
        subscribed.then(() => this.log.current(roomId)),
      );
    }
    return subscribed;
  }

  closed(roomId: string): void {
    this.subscriptions.delete(roomId);
    this.bus.unsubscribeRoom(roomId);
    this.sequencer?.close(roomId);
  }

  @OnEvent(Lifecycle.MessageCreated)
  onMessage(event: MessageCreatedEvent): void {
    const roomId = event.message.room_id;
    if (!roomId) return;
    const seq = event.message.seq!;
    const frame = Buffer.from(event.relayFrame ?? JSON.stringify({ type: 'message', data: event.message }));
    const header: BusHeader = { t: 'room', r: roomId, x: event.sessionId, s: seq, a: event.message.ts };
    this.bus.publishRoom(roomId, header, frame);
    this.roomFrame(header, frame, event.relayFrame ? 'relay' : 'message');
  }

  @OnEvent(Lifecycle.Joined)
  onJoined(event: MembershipEvent): void {
    this.presenceChange('presence.join', event);
  }

  @OnEvent(Lifecycle.Left)
  onLeft(event: MembershipEvent): void {
    this.presenceChange('presence.leave', event);
  }

  async toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): Promise<void> {
    this.roomRaw(roomId, Buffer.from(JSON.stringify({ type, data })), type, exceptSessionId);
  }

  /** A frame already serialised (a binary relay, say) to a room's members, except one session. */
  roomRaw(roomId: string, frame: Buffer, type: string, exceptSessionId?: string, binary = false): void {
    const header: BusHeader = {
      t: 'room',
      r: roomId,
      x: exceptSessionId,
      ...(binary ? { bin: 1 } : {}),
      ...(VOLATILE.has(type) ? { v: 1 } : {}),
    };
    this.bus.publishRoom(roomId, header, frame);
    this.roomFrame(header, frame, type);
  }

  async toDevice<T extends keyof ServerEventMap>(
    deviceId: string,
    type: T,
    data: ServerEventMap[T],
    keep?: KeepOffline,
  ): Promise<boolean> {
    const frame = Buffer.from(JSON.stringify({ type, data }));
    const volatile = VOLATILE.has(type);
    if (this.deliverLocal(deviceId, frame, type, volatile)) return true;
    if (!this.bus.distributed) return false;
    const route = await this.presence.route(deviceId).catch(() => undefined);
    if (!route || route.nodeId === this.config.NODE_ID) return false;
    return this.toNode(
      route.nodeId,
      {
        t: 'device',
        d: deviceId,
        ...(keep ? { keep: { kind: type, key: keep.dedupeKey } } : {}),
        ...(volatile ? { v: 1 } : {}),
      },
      frame,
    );
  }

  /** A control message to another node (kick, takeover); false when nobody listens there. */
  toNode(nodeId: string, header: BusHeader, body = EMPTY): Promise<boolean> {
    return this.bus.publishNode(nodeId, header, body);
  }

  /** A `system` event to a room's members, or to every client of the cluster when roomId is null. */
  system(roomId: string | null, event: SystemEvent): void {
    const frame = Buffer.from(JSON.stringify({ type: 'system', data: event }));
    if (roomId !== null) return this.roomRaw(roomId, frame, 'system');
    this.bus.publishAll({ t: 'all' }, frame);
    this.everyone(frame);
  }

  /** Members everywhere get `frame`, then are taken out of the room (they stay connected). */
  closeRoom(roomId: string, event: SystemEvent): void {
    const frame = Buffer.from(JSON.stringify({ type: 'system', data: event }));
    const header: BusHeader = { t: 'room.closed', r: roomId };
    this.bus.publishRoom(roomId, header, frame);
    this.fromBus(header, frame);
  }

  private fromBus(header: BusHeader, body: Buffer): void {
    switch (header.t) {
      case 'room':
        return this.roomFrame(header, body, 'cluster');
      case 'room.closed':
        this.registry.broadcast(header.r, body);
        for (const conn of [...this.registry.local(header.r)]) this.registry.leave(conn, header.r);
        return;
      case 'device':
        if (!this.deliverLocal(header.d, body, 'cluster', header.v === 1) && header.keep)
          void this.keep(header, body);
        return;
      case 'all':
        return this.everyone(body);
    }
  }

  /** On this node, in seq order for room messages. */
  private roomFrame(header: Extract<BusHeader, { t: 'room' }>, frame: Buffer, type: string): void {
    const send = () => {
      const sent = this.registry.broadcast(header.r, frame, {
        except: header.x,
        binary: header.bin === 1,
        seq: header.s,
        volatile: header.v === 1,
      });
      this.metrics.framesOut.inc({ type }, sent);
      if (header.s !== undefined) this.metrics.fanout.observe(sent);
      // Across nodes this includes their clock difference: clamped, never negative.
      if (header.a !== undefined && sent > 0)
        this.metrics.deliveryLatency.observe(Math.max(0, Date.now() - header.a) / 1000);
    };
    if (header.s !== undefined && this.sequencer) this.sequencer.push(header.r, header.s, send);
    else send();
  }

  private deliverLocal(deviceId: string, frame: Buffer, type: string, volatile: boolean): boolean {
    const conn = this.registry.device(deviceId);
    if (!conn?.open) return false;
    conn.deliver(new WireFrame(frame), { volatile });
    this.metrics.framesOut.inc({ type });
    return true;
  }

  /** The device left this node after it was routed here: its inbox keeps what it should not lose. */
  private async keep(header: Extract<BusHeader, { t: 'device' }>, body: Buffer): Promise<void> {
    try {
      const { data } = JSON.parse(body.toString()) as { data: object };
      await this.offline.store([
        {
          deviceId: header.d,
          kind: header.keep!.kind as OfflineKind,
          payload: data,
          dedupeKey: header.keep!.key,
        },
      ]);
    } catch (err) {
      this.logger.error(`event for ${header.d} neither delivered nor kept: ${(err as Error).message}`);
    }
  }

  private everyone(frame: Buffer): void {
    const wire = new WireFrame(frame);
    let sent = 0;
    for (const conn of this.registry.devices()) {
      conn.deliver(wire);
      sent++;
    }
    this.metrics.framesOut.inc({ type: 'system' }, sent);
  }

  private presenceChange(type: 'presence.join' | 'presence.leave', event: MembershipEvent): void {
    const data: PresenceChangeEvent = {
      room_id: event.roomId,
      device_id: event.deviceId,
      identity: event.identity,
    };
    this.roomRaw(event.roomId, Buffer.from(JSON.stringify({ type, data })), type, event.sessionId);
  }
}

const EMPTY = Buffer.alloc(0);

/** Frame types a slow client loses first (OutboundFrame.volatile): stale the moment they are late. */
const VOLATILE: ReadonlySet<string> = new Set(['typing', 'presence.join', 'presence.leave']);

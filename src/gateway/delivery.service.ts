import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { PresenceChangeEvent, ServerEventMap } from '#protocol';
import { LiveDelivery } from '../common/live-delivery.js';
import { Lifecycle, type MembershipEvent, type MessageCreatedEvent } from '../common/lifecycle-events.js';
import { ConnectionRegistry } from './connection-registry.js';
import { GatewayMetrics } from './gateway.metrics.js';

/**
 * Turns domain events into frames on this node's sockets. Each frame is serialised once per
 * event and the same buffer is written to every recipient.
 */
@Injectable()
export class DeliveryService extends LiveDelivery {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly metrics: GatewayMetrics,
  ) {
    super();
  }

  @OnEvent(Lifecycle.MessageCreated)
  onMessage(event: MessageCreatedEvent): void {
    const roomId = event.message.room_id;
    if (!roomId) return;
    const frame = Buffer.from(event.relayFrame ?? JSON.stringify({ type: 'message', data: event.message }));
    const sent = this.registry.broadcast(roomId, frame, event.sessionId, false, event.message.seq);
    this.metrics.framesOut.inc({ type: event.relayFrame ? 'relay' : 'message' }, sent);
    this.metrics.fanout.observe(sent);
  }

  @OnEvent(Lifecycle.Joined)
  onJoined(event: MembershipEvent): void {
    this.presence('presence.join', event);
  }

  @OnEvent(Lifecycle.Left)
  onLeft(event: MembershipEvent): void {
    this.presence('presence.leave', event);
  }

  /** Sends an event to the room's sockets on this node, except one session; returns how many. */
  toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): number {
    const sent = this.registry.broadcast(
      roomId,
      Buffer.from(JSON.stringify({ type, data })),
      exceptSessionId,
    );
    this.metrics.framesOut.inc({ type }, sent);
    return sent;
  }

  /** Sends an event to the device if it is connected to this node; returns whether it was. */
  toDevice<T extends keyof ServerEventMap>(deviceId: string, type: T, data: ServerEventMap[T]): boolean {
    const conn = this.registry.device(deviceId);
    if (!conn?.open) return false;
    conn.deliver(Buffer.from(JSON.stringify({ type, data })));
    this.metrics.framesOut.inc({ type });
    return true;
  }

  /** Sends a system event to a room's sockets (or every socket when roomId is null); returns the count. */
  system(roomId: string | null, kind: string, payload: unknown): number {
    const frame = Buffer.from(JSON.stringify({ type: 'system', data: { kind, payload, ts: Date.now() } }));
    let sent = 0;
    if (roomId !== null) {
      sent = this.registry.broadcast(roomId, frame);
    } else {
      for (const conn of this.registry.devices()) {
        conn.deliver(frame);
        sent++;
      }
    }
    this.metrics.framesOut.inc({ type: 'system' }, sent);
    return sent;
  }

  private presence(type: 'presence.join' | 'presence.leave', event: MembershipEvent): void {
    const data: PresenceChangeEvent = {
      room_id: event.roomId,
      device_id: event.deviceId,
      identity: event.identity,
    };
    const sent = this.registry.broadcast(
      event.roomId,
      Buffer.from(JSON.stringify({ type, data })),
      event.sessionId,
    );
    this.metrics.framesOut.inc({ type }, sent);
  }
}

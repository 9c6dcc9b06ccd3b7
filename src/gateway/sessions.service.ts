import { Injectable } from '@nestjs/common';
import { CloseCode, type ServerEventMap } from '#protocol';
import { PresenceService } from '../presence/presence.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { ConnectionRegistry } from './connection-registry.js';
import { DeliveryService } from './delivery.service.js';
import { RoomcastGateway } from './roomcast.gateway.js';

export interface ClientInfo {
  session_id: string;
  device_id: string;
  identity: string;
  client_ip: string;
  node_id: string;
  rooms: string[];
  primary_room: string | null;
  connected_at: string;
}

/**
 * What operators and custom modules may do with live sessions: list, kick, announce, close
 * a room. The admin API is built on it.
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly gateway: RoomcastGateway,
    private readonly delivery: DeliveryService,
    private readonly presence: PresenceService,
    private readonly rooms: RoomsService,
  ) {}

  clients(roomId?: string): ClientInfo[] {
    const conns = roomId ? [...this.registry.local(roomId)] : [...this.registry.devices()];
    return conns.map((c) => ({
      session_id: c.sessionId,
      device_id: c.deviceId,
      identity: c.identity,
      client_ip: c.clientIp,
      node_id: c.nodeId,
      rooms: [...c.rooms],
      primary_room: c.primaryRoom,
      connected_at: c.connectedAt.toISOString(),
    }));
  }

  connectionCount(): number {
    return this.registry.size;
  }

  /** Disconnects the device (`system` kind `kicked`, then close 4403). Returns false when it is not connected here. */
  async kick(deviceId: string, reason = 'kicked by an administrator'): Promise<boolean> {
    const conn = this.registry.device(deviceId);
    if (!conn) return false;
    conn.event('system', { kind: 'kicked', payload: { reason }, ts: Date.now() });
    await this.gateway.detach(conn, CloseCode.FORBIDDEN);
    conn.close(CloseCode.FORBIDDEN, 'kicked');
    return true;
  }

  /** An event to a device connected to this node; false when it is not (the caller keeps it offline). */
  deliver<T extends keyof ServerEventMap>(deviceId: string, type: T, data: ServerEventMap[T]): boolean {
    return this.delivery.toDevice(deviceId, type, data);
  }

  /** An event to the room's members on this node, except one session. Returns recipients. */
  toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): number {
    return this.delivery.toRoom(roomId, type, data, exceptSessionId);
  }

  /** A `system` event to one room's members or to every connected client. Returns recipients. */
  announce(roomId: string | null, kind: string, payload: unknown): number {
    return this.delivery.system(roomId, kind, payload);
  }

  /**
   * Deletes the room: members get `system` kind `room_closed` and are taken out of it
   * (they stay connected). Stored messages are kept.
   */
  async closeRoom(roomId: string): Promise<number> {
    await this.rooms.getOrThrow(roomId);
    const told = this.delivery.system(roomId, 'room_closed', { room_id: roomId });
    for (const conn of [...this.registry.local(roomId)]) this.registry.leave(conn, roomId);
    for (const member of await this.presence.members(roomId)) await this.presence.leave(roomId, member);
    await this.rooms.delete(roomId);
    return told;
  }
}

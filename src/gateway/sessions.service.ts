import { Injectable } from '@nestjs/common';
import { CloseCode, type ServerEventMap, type SystemEvent } from '#protocol';
import { type BusHeader, ClusterBus } from '../cluster/cluster-bus.js';
import { AppConfig } from '../config/app-config.js';
import { PresenceService } from '../presence/presence.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { Connection } from './connection.js';
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
 * What operators and custom modules may do with live sessions, on whichever node of the
 * cluster they are: list, kick, announce, close a room. The admin API is built on it.
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly config: AppConfig,
    private readonly registry: ConnectionRegistry,
    private readonly gateway: RoomcastGateway,
    private readonly delivery: DeliveryService,
    private readonly presence: PresenceService,
    private readonly rooms: RoomsService,
    bus: ClusterBus,
  ) {
    bus.onMessage((header) => void this.fromBus(header));
  }

  /** Every connected client of the cluster (or of one room), read from presence. */
  async clients(roomId?: string): Promise<ClientInfo[]> {
    const sessions = await this.presence.sessions();
    return sessions
      .filter((s) => roomId === undefined || s.rooms.includes(roomId))
      .map((s) => ({
        session_id: s.sessionId,
        device_id: s.deviceId,
        identity: s.identity,
        client_ip: s.clientIp,
        node_id: s.nodeId,
        rooms: s.rooms,
        primary_room: s.primaryRoom !== null && s.rooms.includes(s.primaryRoom) ? s.primaryRoom : null,
        connected_at: new Date(s.connectedAt).toISOString(),
      }));
  }

  /** Handshaken connections on this node. */
  connectionCount(): number {
    return this.registry.size;
  }

  /**
   * Disconnects the device wherever it is connected (`system` kind `kicked`, then close
   * 4403). Returns false when it is connected nowhere.
   */
  async kick(deviceId: string, reason = 'kicked by an administrator'): Promise<boolean> {
    const conn = this.registry.device(deviceId);
    if (conn) {
      await this.kickLocal(conn, reason);
      return true;
    }
    const route = await this.presence.route(deviceId);
    if (!route || route.nodeId === this.config.NODE_ID) return false;
    return this.delivery.toNode(route.nodeId, { t: 'kick', d: deviceId, reason });
  }

  /** An event to the device wherever it is connected; false when it is not (the caller keeps it offline). */
  deliver<T extends keyof ServerEventMap>(
    deviceId: string,
    type: T,
    data: ServerEventMap[T],
  ): Promise<boolean> {
    return this.delivery.toDevice(deviceId, type, data);
  }

  /** An event to the room's members on every node, except one session. */
  toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): Promise<void> {
    return this.delivery.toRoom(roomId, type, data, exceptSessionId);
  }

  /**
   * A `system` event to one room's members or to every connected client of the cluster.
   * Returns how many were connected to get it.
   */
  announce(roomId: string | null, kind: string, payload: unknown): Promise<number> {
    return this.announceEvent(roomId, { kind, payload, ts: Date.now() });
  }

  async announceEvent(roomId: string | null, event: SystemEvent): Promise<number> {
    const recipients = await (roomId !== null ? this.presence.count(roomId) : this.presence.sessionCount());
    this.delivery.system(roomId, event);
    return recipients;
  }

  /**
   * Deletes the room: members on every node get `system` kind `room_closed` and are taken
   * out of it (they stay connected). Stored messages are kept.
   */
  async closeRoom(roomId: string): Promise<number> {
    await this.rooms.getOrThrow(roomId);
    const members = await this.presence.members(roomId);
    this.delivery.closeRoom(roomId, { kind: 'room_closed', payload: { room_id: roomId }, ts: Date.now() });
    for (const member of members) await this.presence.leave(roomId, member);
    await this.rooms.delete(roomId);
    return members.length;
  }

  private async kickLocal(conn: Connection, reason: string): Promise<void> {
    conn.event('system', { kind: 'kicked', payload: { reason }, ts: Date.now() });
    await this.gateway.detach(conn, CloseCode.FORBIDDEN);
    conn.close(CloseCode.FORBIDDEN, 'kicked');
  }

  private async fromBus(header: BusHeader): Promise<void> {
    if (header.t !== 'kick' && header.t !== 'replaced') return;
    const conn = this.registry.device(header.d);
    if (!conn) return;
    if (header.t === 'kick') return this.kickLocal(conn, header.reason);
    if (conn.sessionId === header.sid) await this.gateway.replace(conn);
  }
}

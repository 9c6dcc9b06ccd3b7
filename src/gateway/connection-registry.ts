import { Injectable } from '@nestjs/common';
import { LocalNode } from '../cluster/local-node.js';
import type { LocalPresence } from '../presence/presence.service.js';
import type { Member } from '../presence/presence.store.js';
import { AppConfig } from '../config/app-config.js';
import { type Connection, type OutboundFrame, WireFrame } from './connection.js';
import { RoomFanout } from './room-fanout.js';

/** Told when this node gets its first member of a room and loses its last. */
export interface RoomListener {
  /** Resolves once frames for the room from other nodes reach this one. */
  opened(roomId: string): Promise<void>;
  closed(roomId: string): void;
}

/** The sockets of this process: all of them, by device and by room. */
@Injectable()
export class ConnectionRegistry extends LocalNode {
  private listener?: RoomListener;
  private readonly fanout: RoomFanout<Connection>;
  /** Every open socket, handshaken or not. */
  readonly all = new Set<Connection>();
  private readonly byDevice = new Map<string, Connection>();
  private readonly byRoom = new Map<string, Set<Connection>>();

  constructor(config: AppConfig) {
    super();
    this.fanout = new RoomFanout(config.FANOUT_SLICE_SIZE);
  }

  get size(): number {
    return this.byDevice.size;
  }

  listen(listener: RoomListener): void {
    this.listener = listener;
  }

  connections(): number {
    return this.byDevice.size;
  }

  snapshot(): LocalPresence {
    const conns = [...this.byDevice.values()];
    return {
      sessions: conns.map((c) => c.session),
      memberships: conns.flatMap((c) => [...c.rooms].map((roomId): [string, Member] => [roomId, c.member])),
    };
  }

  device(deviceId: string): Connection | undefined {
    return this.byDevice.get(deviceId);
  }

  devices(): IterableIterator<Connection> {
    return this.byDevice.values();
  }

  register(conn: Connection): void {
    this.byDevice.set(conn.deviceId, conn);
  }

  unregister(conn: Connection): void {
    this.all.delete(conn);
    if (this.byDevice.get(conn.deviceId) === conn) this.byDevice.delete(conn.deviceId);
    for (const roomId of conn.rooms) this.leave(conn, roomId);
  }

  /** Resolves once room frames from other nodes reach this one too. */
  join(conn: Connection, roomId: string): Promise<void> {
    conn.rooms.add(roomId);
    let members = this.byRoom.get(roomId);
    if (!members) this.byRoom.set(roomId, (members = new Set()));
    members.add(conn);
    return this.listener?.opened(roomId) ?? Promise.resolve();
  }

  leave(conn: Connection, roomId: string): void {
    conn.rooms.delete(roomId);
    if (conn.primaryRoom === roomId) conn.primaryRoom = null;
    const members = this.byRoom.get(roomId);
    if (!members) return;
    members.delete(conn);
    if (members.size > 0) return;
    this.byRoom.delete(roomId);
    this.listener?.closed(roomId);
  }

  local(roomId: string): ReadonlySet<Connection> {
    return this.byRoom.get(roomId) ?? EMPTY;
  }

  roomCount(): number {
    return this.byRoom.size;
  }

  /**
   * Sends one serialised frame to the room's sockets (those there now), except the session
   * given. The frame is serialised by the caller and framed here, once for every recipient;
   * large rooms are written in slices, in order per room (RoomFanout). Returns how many sockets it goes to.
   */
  broadcast(
    roomId: string,
    frame: Buffer,
    options: OutboundFrame & { except?: string; binary?: boolean } = {},
  ): number {
    const members = this.byRoom.get(roomId);
    if (!members) return 0;
    const { except, binary, ...outbound } = options;
    const delivery = { ...outbound, roomId };
    const recipients = [...members].filter((conn) => conn.sessionId !== except && conn.open);
    const wire = new WireFrame(frame, binary);
    this.fanout.push(roomId, recipients, (conn) => conn.deliver(wire, delivery));
    return recipients.length;
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();

import { Injectable } from '@nestjs/common';
import type { Connection } from './connection.js';

/** The sockets of this process: all of them, by device and by room. */
@Injectable()
export class ConnectionRegistry {
  /** Every open socket, handshaken or not. */
  readonly all = new Set<Connection>();
  private readonly byDevice = new Map<string, Connection>();
  private readonly byRoom = new Map<string, Set<Connection>>();

  get size(): number {
    return this.byDevice.size;
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

  join(conn: Connection, roomId: string): void {
    conn.rooms.add(roomId);
    let members = this.byRoom.get(roomId);
    if (!members) this.byRoom.set(roomId, (members = new Set()));
    members.add(conn);
  }

  leave(conn: Connection, roomId: string): void {
    conn.rooms.delete(roomId);
    if (conn.primaryRoom === roomId) conn.primaryRoom = null;
    const members = this.byRoom.get(roomId);
    if (!members) return;
    members.delete(conn);
    if (members.size === 0) this.byRoom.delete(roomId);
  }

  local(roomId: string): ReadonlySet<Connection> {
    return this.byRoom.get(roomId) ?? EMPTY;
  }

  roomCount(): number {
    return this.byRoom.size;
  }

  /**
   * Sends one serialised frame to the room's sockets, except the session given. The frame
   * is serialised by the caller once; `binary` relays binary frames unchanged; `seq` marks
   * a room message (a socket still in its handshake skips it if it was replayed).
   * Returns how many sockets it was written to.
   */
  broadcast(roomId: string, frame: Buffer, exceptSessionId?: string, binary = false, seq?: number): number {
    const members = this.byRoom.get(roomId);
    if (!members) return 0;
    let sent = 0;
    for (const conn of members) {
      if (conn.sessionId === exceptSessionId || !conn.open) continue;
      conn.deliver(frame, binary, roomId, seq);
      sent++;
    }
    return sent;
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();

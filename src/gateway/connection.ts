import type { ServerEventMap } from '#protocol';
import { WebSocket } from 'ws';
import type { Principal } from '../auth/auth.service.js';
import type { Member, Session } from '../presence/presence.store.js';

interface HeldFrame {
  frame: Buffer;
  binary: boolean;
  roomId?: string;
  seq?: number;
}

/**
 * One socket and what the server knows of it. Fields are set by the handshake; handlers
 * see them read-only through HandlerContext.
 */
export class Connection {
  deviceId = '';
  identity = '';
  principal?: Principal;
  /** The room typeless and binary frames are relayed to; null after leaving it. */
  primaryRoom: string | null = null;
  readonly rooms = new Set<string>();
  handshaken = false;
  detached = false;
  lastSeen = Date.now();
  readonly connectedAt = new Date();
  handshakeTimer?: NodeJS.Timeout;
  /** Frames of one connection are handled one after another, in arrival order. */
  queue: Promise<void> = Promise.resolve();
  /**
   * During the handshake, frames for this socket from other sources (room messages,
   * presence, notifications) wait here, so the client sees the handshake answer first and
   * no message twice (replayed and live).
   */
  held: HeldFrame[] | null = null;
  /** Per resumed room, the last seq the handshake replayed. */
  readonly replayed = new Map<string, number>();
  /** Set while the client's receipt of its offline items is being confirmed by a ping. */
  offlineAck?: { token: string; upToId: number };

  constructor(
    readonly socket: WebSocket,
    readonly sessionId: string,
    readonly clientIp: string,
    readonly nodeId: string,
  ) {}

  get member(): Member {
    return {
      deviceId: this.deviceId,
      identity: this.identity,
      sessionId: this.sessionId,
      nodeId: this.nodeId,
    };
  }

  get session(): Session {
    return {
      ...this.member,
      clientIp: this.clientIp,
      connectedAt: this.connectedAt.getTime(),
      primaryRoom: this.primaryRoom,
    };
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends a frame from outside the connection's own request/answer flow: held during the
   * handshake. `roomId`/`seq` identify a room message, to skip it if the handshake replayed it.
   */
  deliver(frame: Buffer, binary = false, roomId?: string, seq?: number): void {
    if (this.held) this.held.push({ frame, binary, roomId, seq });
    else if (this.open) this.socket.send(frame, { binary });
  }

  /** Sends what was held during the handshake, minus room messages it already replayed. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const h of held) {
      if (h.roomId !== undefined && h.seq !== undefined && h.seq <= (this.replayed.get(h.roomId) ?? 0))
        continue;
      this.deliver(h.frame, h.binary);
    }
  }

  /** Sends a frame already serialised (text). Silently drops it on a closing socket. */
  sendRaw(frame: string | Buffer): void {
    if (this.open) this.socket.send(frame, { binary: false });
  }

  send(frame: object): void {
    this.sendRaw(JSON.stringify(frame));
  }

  event<T extends keyof ServerEventMap>(type: T, data: ServerEventMap[T], id?: string): void {
    this.send(id === undefined ? { type, data } : { type, id, data });
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING)
      this.socket.close(code, reason);
  }
}

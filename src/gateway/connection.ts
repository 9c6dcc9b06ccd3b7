import type { ServerEventMap } from '#protocol';
import { WebSocket } from 'ws';
import type { Principal } from '../auth/auth.service.js';
import type { Member } from '../presence/presence.store.js';

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

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
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

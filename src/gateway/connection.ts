import { CloseCode, type ServerEventMap } from '#protocol';
import type { Duplex } from 'node:stream';
import { Sender, WebSocket } from 'ws';
import type { Principal } from '../auth/auth.service.js';
import type { BackpressurePolicy } from '../config/app-config.js';
import type { Member, Session } from '../presence/presence.store.js';

/**
 * A frame framed once: the WebSocket header and the payload in one buffer. Server frames are
 * unmasked and per-message deflate is off (ws-adapter), so these are the bytes every socket
 * gets: a broadcast writes them to each TCP socket as they are, one write per recipient, with
 * no per-recipient framing, copy or allocation.
 */
export class WireFrame {
  readonly bytes: Buffer;

  constructor(
    readonly payload: Buffer,
    binary = false,
  ) {
    const opcode = binary ? 2 : 1;
    this.bytes = Buffer.concat(
      Sender.frame(payload, { fin: true, opcode, mask: false, readOnly: false, rsv1: false }),
    );
  }
}

/** How a frame from outside the connection's request/answer flow is sent. */
export interface OutboundFrame {
  /** With `seq`: a room message, skipped if the handshake already replayed it. */
  roomId?: string;
  seq?: number;
  /** Typing and presence: worth little once late, so a slow client loses these first. */
  volatile?: boolean;
}

interface HeldFrame extends OutboundFrame {
  frame: WireFrame;
}

export type BackpressureAction = 'disconnected' | 'dropped' | 'dropped_volatile';

/**
 * The outbound budget of every connection: bytes written and not yet taken by the client
 * (ws bufferedAmount) plus frames held during the handshake. A frame that would go past
 * `maxBytes` (0: no budget) is skipped (`drop`) or the connection is closed with 1013
 * (`disconnect`); volatile frames are skipped past half of it, whatever the policy.
 */
export interface OutboundBudget {
  maxBytes: number;
  policy: BackpressurePolicy;
  /** Told of every frame skipped and every connection closed for not reading fast enough. */
  onAction(conn: Connection, action: BackpressureAction): void;
}

/** A client over its budget gets this long to take the close frame before its socket is destroyed. */
const SLOW_CLOSE_GRACE_MS = 1000;

/**
 * One socket and what the server knows of it. Fields are set by the handshake; handlers
 * see them read-only through HandlerContext.
 */
export class Connection {
  deviceId = '';
  identity = '';
  principal?: Principal;
  /** A token given on the upgrade (Authorization header or `?token=`); `hello.token` wins. */
  upgradeToken?: string;
  /** The room typeless and binary frames are relayed to; null after leaving it. */
  primaryRoom: string | null = null;
  readonly rooms = new Set<string>();
  handshaken = false;
  detached = false;
  lastSeen = Date.now();
  /** Epoch ms. */
  readonly connectedAt = Date.now();
  handshakeTimer?: NodeJS.Timeout;
  /** Frames of one connection are handled one after another, in arrival order. */
  queue: Promise<void> = Promise.resolve();
  /**
   * During the handshake, frames for this socket from other sources (room messages,
   * presence, notifications) wait here, so the client sees the handshake answer first and
   * no message twice (replayed and live).
   */
  held: HeldFrame[] | null = null;
  private heldBytes = 0;
  /** Closed for not reading: nothing more is written. */
  private tooSlow = false;
  /** Per resumed room, the last seq the handshake replayed; only while it runs (most connections resume nothing). */
  private replayedUpTo?: Map<string, number>;
  /** Set while the client's receipt of its offline items is being confirmed by a ping. */
  offlineAck?: { token: string; upToId: number };

  /**
   * `transport`: the TCP (or TLS) socket under `socket`, which WireFrames are written to. ws
   * writes to it synchronously too (nothing is queued in ws without compression), so frames
   * written either way reach the client in the order they were sent.
   */
  constructor(
    readonly socket: WebSocket,
    private readonly transport: Pick<Duplex, 'write'>,
    readonly sessionId: string,
    readonly clientIp: string,
    readonly nodeId: string,
    private readonly budget: OutboundBudget,
  ) {}

  get member(): Member {
    return {
      deviceId: this.deviceId,
      identity: this.identity,
      sessionId: this.sessionId,
      nodeId: this.nodeId,
    };
  }

  // Spelled out rather than spread from `member`: V8 gave each spread copy a hidden class of
  // its own (about 260 bytes per connection in the in-process presence store).
  get session(): Session {
    return {
      deviceId: this.deviceId,
      identity: this.identity,
      sessionId: this.sessionId,
      nodeId: this.nodeId,
      clientIp: this.clientIp,
      connectedAt: this.connectedAt,
      primaryRoom: this.primaryRoom,
    };
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends a frame from outside the connection's own request/answer flow: held during the
   * handshake.
   */
  deliver(frame: WireFrame, options: OutboundFrame = {}): void {
    if (!this.held) return this.writeWire(frame, options.volatile);
    if (this.fits(this.heldBytes, frame.bytes.length, options.volatile)) {
      this.held.push({ frame, ...options });
      this.heldBytes += frame.bytes.length;
    }
  }

  /** The handshake replayed `roomId` up to `seq`: held messages of the room up to there are dropped at release. */
  replayed(roomId: string, seq: number): void {
    (this.replayedUpTo ??= new Map()).set(roomId, seq);
  }

  /** Sends what was held during the handshake, minus room messages it already replayed. */
  release(): void {
    const held = this.held ?? [];
    const replayed = this.replayedUpTo;
    this.held = null;
    this.heldBytes = 0;
    this.replayedUpTo = undefined;
    for (const h of held) {
      if (h.roomId !== undefined && h.seq !== undefined && h.seq <= (replayed?.get(h.roomId) ?? 0)) continue;
      this.writeWire(h.frame, h.volatile);
    }
  }

  /** Sends a frame already serialised (text). Silently drops it on a closing socket. */
  sendRaw(frame: string | Buffer): void {
    if (!this.open || this.tooSlow) return;
    const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    if (this.fits(this.pending, size)) this.socket.send(frame, { binary: false });
  }

  send(frame: object): void {
    this.sendRaw(JSON.stringify(frame));
  }

  event<T extends keyof ServerEventMap>(type: T, data: ServerEventMap[T], id?: string): void {
    this.send(id === undefined ? { type, data } : { type, id, data });
  }

  private writeWire(frame: WireFrame, volatile = false): void {
    if (!this.open || this.tooSlow) return;
    if (this.fits(this.pending, frame.bytes.length, volatile)) this.transport.write(frame.bytes);
  }

  /** Bytes written and not yet taken by the client (ws counts the transport's buffer), plus held frames. */
  private get pending(): number {
    return this.socket.bufferedAmount + this.heldBytes;
  }

  /**
   * Whether a frame of `size` may be added to `pending` bytes; acts on the budget when not.
   * A frame always goes when nothing is pending, so one larger than the budget still reaches
   * a client that keeps up; what one connection holds stays below the budget plus one frame.
   */
  private fits(pending: number, size: number, volatile = false): boolean {
    const { maxBytes, policy } = this.budget;
    if (maxBytes === 0 || pending === 0) return true;
    if (volatile && pending + size > maxBytes / 2) {
      this.budget.onAction(this, 'dropped_volatile');
      return false;
    }
    if (pending + size <= maxBytes) return true;
    if (policy === 'drop') {
      this.budget.onAction(this, 'dropped');
      return false;
    }
    this.tooSlow = true;
    this.budget.onAction(this, 'disconnected');
    this.close(CloseCode.TRY_AGAIN_LATER, 'not reading fast enough; reconnect later');
    // The close frame waits behind everything buffered, which a stalled client never reads.
    setTimeout(() => this.socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
    return false;
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING)
      this.socket.close(code, reason);
  }
}

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import { CloseCode, ErrorCode, type ErrorFrame } from '#protocol';
import type { RawData, WebSocket } from 'ws';
import { assertAllowed, Permission } from '../auth/permissions.js';
import { AppConfig } from '../config/app-config.js';
import { Lifecycle, type DisconnectedEvent } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { type LogFields, withFields } from '../logging/log-fields.js';
import { MessagingService } from '../messaging/messaging.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { Connection, type OutboundBudget } from './connection.js';
import { ConnectionCaps } from './connection-caps.js';
import { ConnectionRegistry } from './connection-registry.js';
import { DeliveryService } from './delivery.service.js';
import { FrameRouter } from './frame-router.js';
import { decodeText, FrameError, parseFrame, type ParsedFrame } from './frames.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { EventReply } from './handler-context.js';
import { HandshakeError, HandshakeService } from './handshake.service.js';
import { TokenExpiry } from './token-expiry.js';
import { upgradeToken } from './upgrade.js';

/** Recorded for connections cut off by the heartbeat: they never sent a close frame. */
const ABNORMAL_CLOSURE = 1006;

/** Legacy room-manager chat frames; relayed and stored as `text` messages. */
export const LEGACY_TEXT_TYPE = 'text';

/** Counted in the `send` rate limit with relayed frames; every other request in `request`. */
const SEND_TYPE = 'message.send';

/**
 * The socket side of the server: connection lifecycle, handshake timeout, heartbeat, and the
 * dispatch of each frame (typed requests to the FrameRouter, typeless and binary frames to
 * the primary room). Behaviour lives in services; this class only moves frames.
 */
@WebSocketGateway({ path: '/ws' })
export class RoomcastGateway implements OnGatewayConnection, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Gateway');
  private heartbeat?: NodeJS.Timeout;
  private shuttingDown = false;
  private readonly outbound: OutboundBudget;
  /** Each socket's connection, for the listeners every socket shares. */
  private readonly connections = new WeakMap<WebSocket, Connection>();
  private readonly listeners = this.socketListeners();

  constructor(
    private readonly config: AppConfig,
    private readonly registry: ConnectionRegistry,
    private readonly router: FrameRouter,
    private readonly handshakes: HandshakeService,
    private readonly presence: PresenceService,
    private readonly messaging: MessagingService,
    private readonly metrics: GatewayMetrics,
    private readonly events: EventEmitter2,
    private readonly delivery: DeliveryService,
    private readonly limits: RateLimitService,
    private readonly caps: ConnectionCaps,
    private readonly expiry: TokenExpiry,
  ) {
    this.outbound = {
      maxBytes: config.OUTBOUND_BUFFER_MAX_BYTES,
      policy: config.BACKPRESSURE_POLICY,
      onAction: (conn, action) => {
        this.metrics.backpressure.inc({ action });
        if (action === 'disconnected') void this.detach(conn, CloseCode.TRY_AGAIN_LATER);
      },
    };
  }

  onApplicationBootstrap(): void {
    this.heartbeat = setInterval(() => this.beat(), this.config.HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Rolling restarts: every client is told to reconnect elsewhere (1001) before the server stops. */
  async onModuleDestroy(): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.heartbeat);
    const open = [...this.registry.all];
    await Promise.all(open.map((conn) => this.detach(conn, CloseCode.GOING_AWAY)));
    for (const conn of open) conn.close(CloseCode.GOING_AWAY, 'server shutting down');
    // A request already under way (a message numbered, not yet queued or published) finishes
    // while Redis and the queues are still open: cut off, it would leave a hole in its room's
    // seq. Frames not started yet are dropped (detached); their clients send them elsewhere.
    await Promise.all(open.map((conn) => conn.queue.catch(() => undefined)));
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const conn = new Connection(
      socket,
      request.socket,
      randomUUID(),
      this.caps.clientIp(request),
      this.config.NODE_ID,
      this.outbound,
    );
    if (this.shuttingDown) {
      conn.close(CloseCode.GOING_AWAY, 'server shutting down');
      return;
    }
    conn.upgradeToken = upgradeToken(request);
    this.caps.opened(conn);
    this.registry.all.add(conn);
    // Frames wait for the per-IP admission check.
    conn.queue = this.admit(conn);
    conn.handshakeTimer = setTimeout(() => {
      this.metrics.handshakes.inc({ outcome: 'timeout' });
      conn.close(CloseCode.HANDSHAKE_TIMEOUT, 'handshake timeout');
    }, this.config.HANDSHAKE_TIMEOUT_MS);
    this.connections.set(socket, conn);
    const { message, pong, error, close } = this.listeners;
    socket.on('message', message).on('pong', pong).on('error', error).on('close', close);
  }

  /**
   * One set of listeners for every socket (ws calls them with the socket as `this`), instead
   * of four closures and their context per socket: about 230 bytes of each idle connection.
   */
  private socketListeners() {
    const conns = this.connections;
    const forSocket = <A extends unknown[]>(handle: (conn: Connection, ...args: A) => void) =>
      function (this: WebSocket, ...args: A) {
        handle(conns.get(this)!, ...args);
      };
    return {
      message: forSocket((conn, data: RawData, isBinary: boolean) => {
        conn.lastSeen = Date.now();
        conn.queue = conn.queue.then(() => this.onFrame(conn, data, isBinary));
      }),
      pong: forSocket((conn, data: Buffer) => {
        conn.lastSeen = Date.now();
        this.handshakes.onPong(conn, data);
      }),
      error: forSocket((conn, err: Error) =>
        this.logger.debug(this.about(conn, `socket error: ${err.message}`)),
      ),
      close: forSocket((conn, code: number) => void this.detach(conn, code)),
    };
  }

  /** New connections per client IP are limited: an excess one is told RATE_LIMITED and closed with 4429. */
  private async admit(conn: Connection): Promise<void> {
    try {
      await this.limits.consume('connect', conn.clientIp);
    } catch (err) {
      this.fail(conn, err, undefined);
      this.metrics.handshakes.inc({ outcome: 'rate_limited' });
      await this.detach(conn, CloseCode.RATE_LIMIT_ABUSE);
      conn.close(CloseCode.RATE_LIMIT_ABUSE, 'too many connections from this address');
    }
  }

  /** Removes the connection from rooms and registry, once, whatever closed it. */
  async detach(conn: Connection, closeCode: number): Promise<void> {
    if (conn.detached) return;
    conn.detached = true;
    clearTimeout(conn.handshakeTimer);
    this.caps.closed(conn);
    this.expiry.forget(conn);
    const rooms = [...conn.rooms];
    this.registry.unregister(conn);
    if (!conn.handshaken) return;
    this.logger.debug(this.about(conn, 'disconnected', { close_code: closeCode }));
    // At shutdown every socket of the node closes at once: telling each member about every
    // other one would be a storm of presence.leave frames to sockets that are closing anyway.
    if (!this.shuttingDown) {
      await Promise.all([
        this.presence.disconnect(conn.member),
        ...rooms.map((roomId) => this.presence.leave(roomId, conn.member)),
      ]).catch((err: Error) =>
        this.logger.error(this.about(conn, `presence cleanup failed: ${err.message}`)),
      );
    }
    const event: DisconnectedEvent = {
      sessionId: conn.sessionId,
      deviceId: conn.deviceId,
      identity: conn.identity,
      roomId: rooms[0] ?? '',
      clientIp: conn.clientIp,
      connectedAt: new Date(conn.connectedAt),
      disconnectedAt: new Date(),
      closeCode,
    };
    this.events.emit(Lifecycle.Disconnected, event);
  }

  /** Closes the connection with 4409: a newer connection of its device replaces it. */
  async replace(old: Connection): Promise<void> {
    await this.detach(old, CloseCode.REPLACED);
    old.close(CloseCode.REPLACED, 'replaced by a newer connection');
  }

  private async onFrame(conn: Connection, data: RawData, isBinary: boolean): Promise<void> {
    if (conn.detached) return;
    let requestId: string | undefined;
    try {
      if (isBinary && !conn.handshaken)
        throw new HandshakeError(
          ErrorCode.BAD_REQUEST,
          'the first frame must be hello',
          CloseCode.BAD_HANDSHAKE,
        );
      const bytes = toBuffer(data);
      const text = isBinary ? '' : this.beforeHello(conn, () => decodeText(bytes));
      const frame = isBinary
        ? undefined
        : this.beforeHello(conn, () => parseFrame(text, this.config.FRAME_MAX_DEPTH));
      if (frame?.kind === 'typed') requestId = frame.id;
      if (!conn.handshaken) return await this.onHello(conn, frame!);
      const type = frame?.kind === 'typed' ? frame.type : frame ? '' : 'binary';
      this.metrics.framesIn.inc({ type: !frame || this.router.has(type) ? type : 'other' });
      const relay = frame ? this.relayKind(frame) : 'binary';
      // The one place per-device limits apply: a refused frame goes no further (no seq, nothing stored).
      await this.limits.consume(relay || type === SEND_TYPE ? 'send' : 'request', conn.deviceId);
      if (relay) assertAllowed(conn.principal, Permission.SEND_MESSAGE);
      if (relay === 'binary') return await this.relayBinary(conn, bytes);
      if (relay) return await this.relay(conn, text, frame!.raw, relay);
      const typed = frame as Extract<ParsedFrame, { kind: 'typed' }>;
      const result = await this.router.dispatch(
        typed.type,
        { connection: conn, requestId: typed.id },
        typed.data,
      );
      this.reply(conn, typed.id, result);
    } catch (err) {
      this.fail(conn, err, requestId);
      if (RoomcastError.from(err)?.code === ErrorCode.RATE_LIMITED) await this.strike(conn);
    }
  }

  /** A connection that keeps sending past its limits is closed with 4429. */
  private async strike(conn: Connection): Promise<void> {
    if (!(await this.limits.strike(conn.sessionId))) return;
    await this.detach(conn, CloseCode.RATE_LIMIT_ABUSE);
    conn.close(CloseCode.RATE_LIMIT_ABUSE, 'rate limit abuse');
  }

  /** A frame that cannot be read: before the handshake, a bad handshake (close 4400). */
  private beforeHello<T>(conn: Connection, read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (!conn.handshaken)
        throw new HandshakeError(ErrorCode.BAD_REQUEST, (err as Error).message, CloseCode.BAD_HANDSHAKE);
      throw err;
    }
  }

  /** How a frame is relayed to the primary room as it is, if it is not a request for a handler. */
  private relayKind(frame: ParsedFrame): 'custom' | 'text' | undefined {
    if (frame.kind === 'typeless') return 'custom';
    if (this.router.has(frame.type)) return undefined;
    if (frame.type === LEGACY_TEXT_TYPE) return typeof frame.raw.content === 'string' ? 'text' : 'custom';
    return this.config.RELAY_UNKNOWN_TYPES ? 'custom' : undefined;
  }

  private async onHello(conn: Connection, frame: ParsedFrame): Promise<void> {
    clearTimeout(conn.handshakeTimer);
    // A cleared timer held by an idle connection is ~120 bytes of heap for nothing.
    conn.handshakeTimer = undefined;
    await this.handshakes.handshake(conn, frame, (old) => this.replace(old));
    this.metrics.handshakes.inc({ outcome: 'ok' });
    this.logger.debug(this.about(conn, 'handshake accepted', { room_id: conn.primaryRoom ?? undefined }));
  }

  private async relayBinary(conn: Connection, data: Buffer): Promise<void> {
    if (!conn.primaryRoom) throw RoomcastError.notFound('no primary room to relay to');
    const roomId = conn.primaryRoom;
    await this.limits.consume('room', roomId);
    this.delivery.roomRaw(roomId, data, 'binary', conn.sessionId, true);
  }

  private async relay(
    conn: Connection,
    text: string,
    frame: Record<string, unknown>,
    kind: 'custom' | 'text',
  ): Promise<void> {
    if (!conn.primaryRoom) throw RoomcastError.notFound('no primary room to relay to');
    const content = kind === 'text' ? frame.content : frame;
    await this.messaging.relay(conn, conn.primaryRoom, text, content, kind);
  }

  private reply(conn: Connection, id: string | undefined, result: unknown): void {
    if (result instanceof EventReply) {
      conn.send(
        id === undefined
          ? { type: result.type, data: result.data }
          : { type: result.type, id, data: result.data },
      );
      this.metrics.framesOut.inc({ type: result.type });
    } else if (result !== undefined && id !== undefined) {
      conn.send({ type: 'ack', id, data: result });
      this.metrics.framesOut.inc({ type: 'ack' });
    }
  }

  /** Every failure of a frame becomes an error frame; only a failed handshake closes the socket. */
  private fail(conn: Connection, err: unknown, requestId: string | undefined): void {
    const id = err instanceof HandshakeError || err instanceof FrameError ? err.id : requestId;
    let frame: ErrorFrame;
    const known = RoomcastError.from(err);
    if (known) {
      frame = {
        type: 'error',
        error: {
          code: known.code,
          message: known.message,
          ...(known.retryAfterMs !== undefined ? { retry_after_ms: known.retryAfterMs } : {}),
        },
      };
    } else {
      this.logger.error(this.about(conn, `frame failed: ${(err as Error).stack ?? String(err)}`));
      frame = { type: 'error', error: { code: ErrorCode.INTERNAL, message: 'internal error' } };
    }
    if (id !== undefined) frame.id = id;
    conn.send(frame);
    this.metrics.framesOut.inc({ type: 'error' });
    if (err instanceof HandshakeError) {
      this.metrics.handshakes.inc({ outcome: err.code.toLowerCase() });
      this.logger.debug(this.about(conn, `handshake refused: ${err.code} ${err.message}`));
      conn.close(err.closeCode, err.message.slice(0, 120));
    }
  }

  /** Pings every socket; one silent for 2 × HEARTBEAT_MS is cut off. */
  private beat(): void {
    const deadline = Date.now() - 2 * this.config.HEARTBEAT_MS;
    for (const conn of this.registry.all) {
      if (conn.lastSeen < deadline) {
        conn.socket.terminate();
        void this.detach(conn, ABNORMAL_CLOSURE);
      } else if (conn.open) {
        conn.socket.ping();
      }
    }
  }

  /** A line about a connection, with its session and device (see withFields). */
  private about(conn: Connection, msg: string, extra: LogFields = {}): object | string {
    return withFields(this.config.LOG_FORMAT, msg, {
      session_id: conn.sessionId,
      device_id: conn.deviceId,
      ...extra,
    });
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

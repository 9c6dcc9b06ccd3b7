import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import { CloseCode, ErrorCode, type ErrorFrame } from '#protocol';
import type { RawData, WebSocket } from 'ws';
import { AppConfig } from '../config/app-config.js';
import { Lifecycle, type DisconnectedEvent } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { MessagingService } from '../messaging/messaging.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { Connection } from './connection.js';
import { ConnectionRegistry } from './connection-registry.js';
import { DeliveryService } from './delivery.service.js';
import { FrameRouter } from './frame-router.js';
import { decodeText, FrameError, parseFrame, type ParsedFrame } from './frames.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { EventReply } from './handler-context.js';
import { HandshakeError, HandshakeService } from './handshake.service.js';

/** Recorded for connections cut off by the heartbeat: they never sent a close frame. */
const ABNORMAL_CLOSURE = 1006;

/** Legacy room-manager chat frames; relayed and stored as `text` messages. */
const LEGACY_TEXT_TYPE = 'text';

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
  ) {}

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
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const conn = new Connection(socket, randomUUID(), this.clientIp(request), this.config.NODE_ID);
    if (this.shuttingDown) {
      conn.close(CloseCode.GOING_AWAY, 'server shutting down');
      return;
    }
    this.registry.all.add(conn);
    conn.handshakeTimer = setTimeout(() => {
      this.metrics.handshakes.inc({ outcome: 'timeout' });
      conn.close(CloseCode.HANDSHAKE_TIMEOUT, 'handshake timeout');
    }, this.config.HANDSHAKE_TIMEOUT_MS);
    socket.on('message', (data: RawData, isBinary: boolean) => {
      conn.lastSeen = Date.now();
      conn.queue = conn.queue.then(() => this.onFrame(conn, data, isBinary));
    });
    socket.on('pong', (data: Buffer) => {
      conn.lastSeen = Date.now();
      this.handshakes.onPong(conn, data);
    });
    socket.on('error', (err) => this.logger.debug(`socket ${conn.sessionId}: ${err.message}`));
    socket.on('close', (code: number) => void this.detach(conn, code));
  }

  /** Removes the connection from rooms and registry, once, whatever closed it. */
  async detach(conn: Connection, closeCode: number): Promise<void> {
    if (conn.detached) return;
    conn.detached = true;
    clearTimeout(conn.handshakeTimer);
    const rooms = [...conn.rooms];
    this.registry.unregister(conn);
    if (!conn.handshaken) return;
    // At shutdown every socket of the node closes at once: telling each member about every
    // other one would be a storm of presence.leave frames to sockets that are closing anyway.
    if (!this.shuttingDown) {
      await Promise.all([
        this.presence.disconnect(conn.member),
        ...rooms.map((roomId) => this.presence.leave(roomId, conn.member)),
      ]).catch((err: Error) =>
        this.logger.error(`presence cleanup of ${conn.deviceId} failed: ${err.message}`),
      );
    }
    const event: DisconnectedEvent = {
      sessionId: conn.sessionId,
      deviceId: conn.deviceId,
      identity: conn.identity,
      roomId: rooms[0] ?? '',
      clientIp: conn.clientIp,
      connectedAt: conn.connectedAt,
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
      if (isBinary) return this.onBinary(conn, toBuffer(data));
      let text: string;
      let frame: ParsedFrame;
      try {
        text = decodeText(toBuffer(data));
        frame = parseFrame(text, this.config.FRAME_MAX_DEPTH);
      } catch (err) {
        if (!conn.handshaken)
          throw new HandshakeError(ErrorCode.BAD_REQUEST, (err as Error).message, CloseCode.BAD_HANDSHAKE);
        throw err;
      }
      if (frame.kind === 'typed') requestId = frame.id;
      if (!conn.handshaken) return await this.onHello(conn, frame);
      if (frame.kind === 'typeless') return await this.relay(conn, text, frame.raw, 'custom');
      this.metrics.framesIn.inc({ type: this.router.has(frame.type) ? frame.type : 'other' });
      if (frame.type === LEGACY_TEXT_TYPE && !this.router.has(LEGACY_TEXT_TYPE)) {
        return await this.relay(
          conn,
          text,
          frame.raw,
          typeof frame.raw.content === 'string' ? 'text' : 'custom',
        );
      }
      if (!this.router.has(frame.type) && this.config.RELAY_UNKNOWN_TYPES)
        return await this.relay(conn, text, frame.raw, 'custom');
      const result = await this.router.dispatch(
        frame.type,
        { connection: conn, requestId: frame.id },
        frame.data,
      );
      this.reply(conn, frame.id, result);
    } catch (err) {
      this.fail(conn, err, requestId);
    }
  }

  private async onHello(conn: Connection, frame: ParsedFrame): Promise<void> {
    clearTimeout(conn.handshakeTimer);
    await this.handshakes.handshake(conn, frame, (old) => this.replace(old));
    this.metrics.handshakes.inc({ outcome: 'ok' });
  }

  private onBinary(conn: Connection, data: Buffer): void {
    if (!conn.handshaken)
      throw new HandshakeError(
        ErrorCode.BAD_REQUEST,
        'the first frame must be hello',
        CloseCode.BAD_HANDSHAKE,
      );
    this.metrics.framesIn.inc({ type: 'binary' });
    if (!conn.primaryRoom) throw RoomcastError.notFound('no primary room to relay to');
    this.delivery.roomRaw(conn.primaryRoom, data, 'binary', conn.sessionId, true);
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
      this.logger.error(
        `frame from ${conn.deviceId || conn.sessionId} failed: ${(err as Error).stack ?? String(err)}`,
      );
      frame = { type: 'error', error: { code: ErrorCode.INTERNAL, message: 'internal error' } };
    }
    if (id !== undefined) frame.id = id;
    conn.send(frame);
    this.metrics.framesOut.inc({ type: 'error' });
    if (err instanceof HandshakeError) {
      this.metrics.handshakes.inc({ outcome: err.code.toLowerCase() });
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

  private clientIp(request: IncomingMessage): string {
    const forwarded = request.headers['x-forwarded-for'];
    if (this.config.TRUST_PROXY && forwarded) {
      return (Array.isArray(forwarded) ? forwarded[0] : forwarded).split(',')[0].trim();
    }
    return request.socket.remoteAddress ?? 'unknown';
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

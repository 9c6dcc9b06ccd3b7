import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CloseCode, ErrorCode } from '#protocol';
import { AuthService, type Principal } from '../auth/auth.service.js';
import { allows, assertAllowed, entrant, joinRoom, Permission } from '../auth/permissions.js';
import { AppConfig } from '../config/app-config.js';
import { Lifecycle, type ConnectedEvent } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { DevicesService } from '../devices/devices.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { MessagingService } from '../messaging/messaging.service.js';
import { OfflineService } from '../offline/offline.service.js';
import { CLIENT_ROOM_ID } from '../rooms/room-id.js';
import type { RoomEntity } from '../rooms/room.entity.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { Connection } from './connection.js';
import { ConnectionCaps } from './connection-caps.js';
import { ConnectionRegistry } from './connection-registry.js';
import { DeliveryService } from './delivery.service.js';
import { HelloDto } from './dto/hello.dto.js';
import { validateData } from './dto/validate.js';
import type { ParsedFrame } from './frames.js';
import { TokenExpiry } from './token-expiry.js';

/** Why a handshake failed, and how the socket is closed for it. */
export class HandshakeError extends RoomcastError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly closeCode: number,
    /** The hello's id, so the error frame can be correlated. */
    readonly id?: string,
  ) {
    super(code, message);
  }
}

/** Most rooms one `hello` may resume. */
const MAX_RESUME_ROOMS = 100;

/** `hello.resume` as [room id, last seq] pairs, checked: room ids, whole seqs ≥ 0. */
export function resumeEntries(resume: Record<string, unknown> | undefined): Array<[string, number]> {
  const entries = Object.entries(resume ?? {});
  if (entries.length > MAX_RESUME_ROOMS)
    throw RoomcastError.badRequest(`resume: at most ${MAX_RESUME_ROOMS} rooms`);
  for (const [roomId, seq] of entries) {
    if (!CLIENT_ROOM_ID.test(roomId)) throw RoomcastError.badRequest(`resume: ${roomId} is not a room id`);
    if (!Number.isSafeInteger(seq) || (seq as number) < 0)
      throw RoomcastError.badRequest(`resume.${roomId} must be a whole number >= 0`);
  }
  return entries as Array<[string, number]>;
}

const CLOSE_FOR: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.BAD_REQUEST]: CloseCode.BAD_HANDSHAKE,
  [ErrorCode.UNAUTHORIZED]: CloseCode.UNAUTHORIZED,
  [ErrorCode.FORBIDDEN]: CloseCode.FORBIDDEN,
  [ErrorCode.ROOM_FULL]: CloseCode.FORBIDDEN,
  // The node can't reach Redis or the database: the client should reconnect, maybe elsewhere.
  [ErrorCode.UNAVAILABLE]: CloseCode.GOING_AWAY,
};

/**
 * The `hello` exchange: authenticate, take over an older connection of the device, pick
 * and join the primary room, and answer in the contract's order (connection, room, replayed
 * messages and resumed per room, offline items, offline_done). Live frames for the socket
 * are held until then.
 */
@Injectable()
export class HandshakeService {
  constructor(
    private readonly config: AppConfig,
    private readonly auth: AuthService,
    private readonly rooms: RoomsService,
    private readonly presence: PresenceService,
    private readonly devices: DevicesService,
    private readonly registry: ConnectionRegistry,
    private readonly events: EventEmitter2,
    private readonly messaging: MessagingService,
    private readonly offline: OfflineService,
    private readonly delivery: DeliveryService,
    private readonly caps: ConnectionCaps,
    private readonly expiry: TokenExpiry,
  ) {}

  /**
   * Runs the handshake for the first frame. `replace` detaches an older connection of the same
   * device (the gateway closes it with 4409). Throws HandshakeError on refusal.
   */
  async handshake(
    conn: Connection,
    frame: ParsedFrame,
    replace: (old: Connection) => Promise<void>,
  ): Promise<void> {
    const isHello = frame.kind === 'typeless' || frame.type === 'hello';
    if (!isHello)
      throw new HandshakeError(
        ErrorCode.BAD_REQUEST,
        'the first frame must be hello',
        CloseCode.BAD_HANDSHAKE,
      );
    const id = frame.kind === 'typed' ? frame.id : undefined;
    try {
      const hello = validateData(HelloDto, frame.kind === 'typed' ? frame.data : frame.raw);
      const principal = await this.auth.authenticate(hello.device_id, hello.token ?? conn.upgradeToken);
      conn.principal = principal;
      if (!this.caps.admitSubject(conn, principal, hello.device_id))
        throw new HandshakeError(
          ErrorCode.RATE_LIMITED,
          `too many connections for subject ${principal.subject}`,
          CloseCode.RATE_LIMIT_ABUSE,
          id,
        );
      await this.takeOver(conn, hello.device_id, replace);

      const resume = resumeEntries(hello.resume);
      conn.deviceId = hello.device_id;
      conn.identity = hello.identity;
      conn.held = [];
      const { room, created } = await this.primaryRoom(hello, principal);
      const total = await this.presence.join(room.roomId, conn.member, this.rooms.capacity(room));
      conn.handshaken = true;
      conn.primaryRoom = room.roomId;
      this.registry.register(conn);
      await this.presence.connect(conn.session);
      await this.registry.join(conn, room.roomId);

      conn.event(
        'connection',
        {
          session_id: conn.sessionId,
          device_id: conn.deviceId,
          identity: conn.identity,
          node_id: this.config.NODE_ID,
          heartbeat_ms: this.config.HEARTBEAT_MS,
          server_time: Date.now(),
        },
        id,
      );
      conn.event('room', {
        room_id: room.roomId,
        created,
        total_clients: total,
        last_seq: await this.messaging.lastSeq(room.roomId),
      });
      for (const [roomId, lastSeq] of resume) await this.resume(conn, roomId, lastSeq);
      await this.deliverOffline(conn);
      conn.release();
      this.expiry.watch(conn);

      this.devices.seen(conn.deviceId, conn.identity, room.roomId);
      const event: ConnectedEvent = {
        sessionId: conn.sessionId,
        deviceId: conn.deviceId,
        identity: conn.identity,
        roomId: room.roomId,
        clientIp: conn.clientIp,
        connectedAt: new Date(conn.connectedAt),
      };
      this.events.emit(Lifecycle.Connected, event);
    } catch (err) {
      const known = RoomcastError.from(err);
      if (err instanceof HandshakeError || !known) throw err;
      throw new HandshakeError(
        known.code,
        known.message,
        CLOSE_FOR[known.code] ?? CloseCode.BAD_HANDSHAKE,
        id,
      );
    }
  }

  /** Closes the device's older connection, on this node or on another one (4409 either way). */
  private async takeOver(
    conn: Connection,
    deviceId: string,
    replace: (old: Connection) => Promise<void>,
  ): Promise<void> {
    const old = this.registry.device(deviceId);
    if (old) {
      if (old !== conn) await replace(old);
      return;
    }
    const route = await this.presence.route(deviceId);
    if (route && route.nodeId !== this.config.NODE_ID)
      await this.delivery.toNode(route.nodeId, { t: 'replaced', d: deviceId, sid: route.sessionId });
  }

  /** The client's pong to the ping sent after its offline items: it has them, so they can go. */
  onPong(conn: Connection, data: Buffer): void {
    if (conn.offlineAck && data.toString() === conn.offlineAck.token) {
      this.offline.acknowledge(conn.deviceId, conn.offlineAck.upToId);
      conn.offlineAck = undefined;
    }
  }

  /**
   * Rejoins a room the client was in and replays what it missed: every message after
   * `lastSeq`, once, in seq order, then `resumed`.
   */
  private async resume(conn: Connection, roomId: string, lastSeq: number): Promise<void> {
    if (!conn.rooms.has(roomId)) {
      try {
        assertAllowed(conn.principal, joinRoom(roomId));
        const mayCreate = allows(conn.principal, Permission.CREATE_ROOM);
        const { room } = await this.rooms.ensure(roomId, conn.deviceId, mayCreate);
        await this.rooms.assertMayEnter(room, entrant(conn.principal, conn.deviceId));
        await this.presence.join(roomId, conn.member, this.rooms.capacity(room));
      } catch (err) {
        // Full, or the token does not let it in (any more): the room is skipped, nothing replayed.
        if (
          !(err instanceof RoomcastError) ||
          (err.code !== ErrorCode.ROOM_FULL && err.code !== ErrorCode.FORBIDDEN)
        )
          throw err;
        conn.event('resumed', { room_id: roomId, from_seq: lastSeq + 1, to_seq: lastSeq, complete: false });
        return;
      }
      await this.registry.join(conn, roomId);
    }
    const replay = await this.messaging.replay(roomId, lastSeq);
    for (const message of replay.messages) conn.event('message', message);
    conn.replayed(roomId, replay.toSeq);
    conn.event('resumed', {
      room_id: roomId,
      from_seq: replay.fromSeq,
      to_seq: replay.toSeq,
      complete: replay.complete,
    });
  }

  /**
   * Sends the device's offline items, oldest first, in batches, then `offline_done`. They are
   * removed only once a ping sent after them comes back: the client has read every frame
   * before it (TCP and WebSocket keep order), so nothing is dropped with a dying socket.
   */
  private async deliverOffline(conn: Connection): Promise<void> {
    let count = 0;
    let lastId = 0;
    for (;;) {
      const items = await this.offline.pending(conn.deviceId, lastId, this.config.OFFLINE_BATCH_SIZE);
      for (const item of items) conn.send({ type: item.kind, data: item.payload });
      count += items.length;
      if (items.length) lastId = items[items.length - 1].id;
      if (items.length < this.config.OFFLINE_BATCH_SIZE) break;
    }
    conn.event('offline_done', { count });
    if (count > 0 && conn.open) {
      conn.offlineAck = { token: `offline:${conn.sessionId}:${lastId}`, upToId: lastId };
      conn.socket.ping(conn.offlineAck.token);
    }
  }

  /**
   * The room asked for; else the device's last room if it still exists (and the token lets it
   * in); else a new one. Joining needs `join:room:<id>`, creating `create:room`.
   */
  private async primaryRoom(
    hello: HelloDto,
    principal: Principal,
  ): Promise<{ room: RoomEntity; created: boolean }> {
    const mayCreate = allows(principal, Permission.CREATE_ROOM);
    const who = entrant(principal, hello.device_id);
    if (hello.room_id) {
      assertAllowed(principal, joinRoom(hello.room_id));
      const found = await this.rooms.ensure(hello.room_id, hello.device_id, mayCreate);
      await this.rooms.assertMayEnter(found.room, who);
      return found;
    }
    const last = await this.devices.lastRoom(hello.device_id);
    const room = last && allows(principal, joinRoom(last)) ? await this.rooms.get(last) : null;
    if (room && (await this.rooms.mayEnter(room, who))) return { room, created: false };
    assertAllowed(principal, Permission.CREATE_ROOM);
    return { room: await this.rooms.create({ createdBy: hello.device_id }), created: true };
  }
}

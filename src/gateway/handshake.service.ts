import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CloseCode, ErrorCode } from '#protocol';
import { AuthService } from '../auth/auth.service.js';
import { AppConfig } from '../config/app-config.js';
import { Lifecycle, type ConnectedEvent } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { DevicesService } from '../devices/devices.service.js';
import { PresenceService } from '../presence/presence.service.js';
import type { RoomEntity } from '../rooms/room.entity.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { Connection } from './connection.js';
import { ConnectionRegistry } from './connection-registry.js';
import { HelloDto } from './dto/hello.dto.js';
import { validateData } from './dto/validate.js';
import type { ParsedFrame } from './frames.js';

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

const CLOSE_FOR: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.BAD_REQUEST]: CloseCode.BAD_HANDSHAKE,
  [ErrorCode.UNAUTHORIZED]: CloseCode.UNAUTHORIZED,
  [ErrorCode.FORBIDDEN]: CloseCode.FORBIDDEN,
  [ErrorCode.ROOM_FULL]: CloseCode.FORBIDDEN,
};

/**
 * The `hello` exchange: authenticate, take over an older connection of the device, pick
 * and join the primary room, and answer in the contract's order
 * (connection, room, resumed…, offline items…, offline_done).
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
      const principal = await this.auth.authenticate(hello.device_id, hello.token);
      const old = this.registry.device(hello.device_id);
      if (old && old !== conn) await replace(old);

      conn.deviceId = hello.device_id;
      conn.identity = hello.identity;
      conn.principal = principal;
      const { room, created } = await this.primaryRoom(hello);
      const total = await this.presence.join(room.roomId, conn.member, this.rooms.capacity(room));
      conn.handshaken = true;
      conn.primaryRoom = room.roomId;
      this.registry.register(conn);
      await this.presence.connect(conn.member);
      this.registry.join(conn, room.roomId);

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
      conn.event('room', { room_id: room.roomId, created, total_clients: total });
      conn.event('offline_done', { count: 0 });

      this.devices.seen(conn.deviceId, conn.identity, room.roomId);
      const event: ConnectedEvent = {
        sessionId: conn.sessionId,
        deviceId: conn.deviceId,
        identity: conn.identity,
        roomId: room.roomId,
        clientIp: conn.clientIp,
        connectedAt: conn.connectedAt,
      };
      this.events.emit(Lifecycle.Connected, event);
    } catch (err) {
      if (err instanceof HandshakeError || !(err instanceof RoomcastError)) throw err;
      throw new HandshakeError(err.code, err.message, CLOSE_FOR[err.code] ?? CloseCode.BAD_HANDSHAKE, id);
    }
  }

  /** The room asked for; else the device's last room if it still exists; else a new one. */
  private async primaryRoom(hello: HelloDto): Promise<{ room: RoomEntity; created: boolean }> {
    if (hello.room_id) return this.rooms.ensure(hello.room_id, hello.device_id);
    const last = await this.devices.lastRoom(hello.device_id);
    const room = last ? await this.rooms.get(last) : null;
    if (room) return { room, created: false };
    return { room: await this.rooms.create({ createdBy: hello.device_id }), created: true };
  }
}

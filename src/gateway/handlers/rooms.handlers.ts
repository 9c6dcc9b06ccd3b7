import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ErrorCode, type RoomInfoEvent, type RoomJoinAck } from '#protocol';
import { allows, entrant, joinRoom, Permission } from '../../auth/permissions.js';
import { Lifecycle, type RoomQueriedEvent } from '../../common/lifecycle-events.js';
import { RoomcastError } from '../../common/roomcast-error.js';
import { MessagingService } from '../../messaging/messaging.service.js';
import { PresenceService } from '../../presence/presence.service.js';
import { RoomsService } from '../../rooms/rooms.service.js';
import { ConnectionRegistry } from '../connection-registry.js';
import { OptionalRoomRefDto, RoomCreateDto, RoomRefDto } from '../dto/room.dto.js';
import { EventReply, type HandlerContext } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';

@Injectable()
export class RoomsHandlers {
  constructor(
    private readonly rooms: RoomsService,
    private readonly presence: PresenceService,
    private readonly messaging: MessagingService,
    private readonly registry: ConnectionRegistry,
    private readonly events: EventEmitter2,
  ) {}

  /**
   * Joins (creating the room if it does not exist and the token may create:room). Joining a
   * room one is in answers as a join would.
   */
  @MessageHandler('room.join', { dto: RoomRefDto, permission: (dto) => joinRoom(dto.room_id) })
  async join({ connection }: HandlerContext, { room_id }: RoomRefDto): Promise<RoomJoinAck> {
    // Already in it (rejoined by a resume, say): answer as a join would, without a second presence.join.
    if (connection.rooms.has(room_id)) {
      return {
        room_id,
        total_clients: await this.presence.count(room_id),
        last_seq: await this.messaging.lastSeq(room_id),
      };
    }
    const { room } = await this.rooms.ensure(
      room_id,
      connection.deviceId,
      allows(connection.principal, Permission.CREATE_ROOM),
    );
    await this.rooms.assertMayEnter(room, entrant(connection.principal, connection.deviceId));
    const total = await this.presence.join(room_id, connection.member, this.rooms.capacity(room));
    await this.registry.join(connection, room_id);
    connection.primaryRoom ??= room_id;
    // Read after joining: every message above it reaches this socket live.
    return { room_id, total_clients: total, last_seq: await this.messaging.lastSeq(room_id) };
  }

  @MessageHandler('room.leave', { dto: RoomRefDto })
  async leave({ connection }: HandlerContext, { room_id }: RoomRefDto): Promise<{ room_id: string }> {
    if (!connection.rooms.has(room_id)) throw RoomcastError.notFound(`not in room ${room_id}`);
    this.registry.leave(connection, room_id);
    await this.presence.leave(room_id, connection.member);
    return { room_id };
  }

  /** Creates a room without joining it. */
  @MessageHandler('room.create', { dto: RoomCreateDto, permission: Permission.CREATE_ROOM })
  async create({ connection }: HandlerContext, dto: RoomCreateDto): Promise<{ room_id: string }> {
    const room = await this.rooms.create({
      roomId: dto.room_id,
      name: dto.name,
      maxClients: dto.max_clients,
      createdBy: connection.deviceId,
      isPrivate: dto.private,
    });
    return { room_id: room.roomId };
  }

  /** Answered with a `room_info` event carrying the request id (room-manager compatible). */
  @MessageHandler('query_room', { dto: OptionalRoomRefDto })
  async query({ connection }: HandlerContext, dto: OptionalRoomRefDto): Promise<EventReply<RoomInfoEvent>> {
    const roomId = dto.room_id ?? connection.primaryRoom;
    if (!roomId) throw new RoomcastError(ErrorCode.NOT_FOUND, 'no room given and no primary room');
    await this.rooms.getOrThrow(roomId);
    const members = await this.presence.members(roomId);
    const info: RoomInfoEvent = {
      room_id: roomId,
      total_clients: members.length,
      clients: members.map((m) => ({ device_id: m.deviceId, identity: m.identity })),
    };
    const event: RoomQueriedEvent = {
      roomId,
      deviceId: connection.deviceId,
      totalClients: members.length,
      queriedAt: new Date(),
    };
    this.events.emit(Lifecycle.RoomQueried, event);
    return new EventReply('room_info', info);
  }
}

import { Injectable } from '@nestjs/common';
import { RoomcastError } from '../common/roomcast-error.js';
import { SessionsService } from '../gateway/index.js';
import { MessagingService } from '../messaging/messaging.service.js';
import { PresenceService } from '../presence/presence.service.js';
import type { RoomEntity } from '../rooms/room.entity.js';
import { ADMIN_CREATOR, RoomsService } from '../rooms/rooms.service.js';
import type { BroadcastDto } from './dto/stats.dto.js';
import type {
  CloseRoomResultDto,
  CreateRoomDto,
  HistoryQueryDto,
  MessagePageDto,
  RoomDetailDto,
  RoomDto,
  RoomListDto,
  RoomMemberListDto,
} from './dto/rooms.dto.js';

/** Rooms as an operator sees them: records joined with live membership, history, closing, announcements. */
@Injectable()
export class AdminRoomsService {
  constructor(
    private readonly rooms: RoomsService,
    private readonly presence: PresenceService,
    private readonly sessions: SessionsService,
    private readonly messaging: MessagingService,
  ) {}

  async list(limit: number, offset: number): Promise<RoomListDto> {
    const page = await this.rooms.page(limit, offset);
    return {
      rooms: page.rooms.map(({ room, totalClients }) => toRoomDto(room, totalClients)),
      total: page.total,
    };
  }

  async create(body: CreateRoomDto): Promise<RoomDto> {
    const room = await this.rooms.create({
      roomId: body.room_id,
      name: body.name,
      maxClients: body.max_clients,
      createdBy: ADMIN_CREATOR,
      isPrivate: body.private,
    });
    return toRoomDto(room, 0);
  }

  async memberList(roomId: string): Promise<RoomMemberListDto> {
    await this.rooms.getOrThrow(roomId);
    const members = await this.rooms.memberList(roomId);
    return {
      room_id: roomId,
      members: members.map((m) => ({
        device_id: m.deviceId,
        added_by: m.addedBy,
        added_at: new Date(m.addedAt).toISOString(),
      })),
    };
  }

  async addMember(roomId: string, deviceId: string): Promise<RoomMemberListDto> {
    await this.rooms.addMember(await this.rooms.getOrThrow(roomId), deviceId, ADMIN_CREATOR);
    return this.memberList(roomId);
  }

  async removeMember(roomId: string, deviceId: string): Promise<RoomMemberListDto> {
    await this.rooms.removeMember(roomId, deviceId);
    return this.memberList(roomId);
  }

  async detail(roomId: string): Promise<RoomDetailDto> {
    const [room, members] = await Promise.all([this.rooms.getOrThrow(roomId), this.presence.members(roomId)]);
    return {
      ...toRoomDto(room, members.length),
      members: members.map((m) => ({
        device_id: m.deviceId,
        identity: m.identity,
        session_id: m.sessionId,
        node_id: m.nodeId,
      })),
    };
  }

  async close(roomId: string): Promise<CloseRoomResultDto> {
    return { room_id: roomId, notified: await this.sessions.closeRoom(roomId) };
  }

  /** Stored messages outlive their room, so an unknown or deleted room is not an error here. */
  async history(roomId: string, query: HistoryQueryDto): Promise<MessagePageDto> {
    if (query.before_seq !== undefined && query.after_seq !== undefined) {
      throw RoomcastError.badRequest('before_seq and after_seq cannot be used together');
    }
    const page = await this.messaging.roomHistory(roomId, {
      before: query.before_seq,
      after: query.after_seq,
      limit: query.limit,
    });
    return { messages: page.messages, next_cursor: page.nextCursor };
  }

  async broadcast(body: BroadcastDto): Promise<number> {
    if (body.room_id !== undefined) await this.rooms.getOrThrow(body.room_id);
    return this.sessions.announce(body.room_id ?? null, body.kind, body.payload);
  }
}

function toRoomDto(room: RoomEntity, totalClients: number): RoomDto {
  return {
    room_id: room.roomId,
    name: room.name,
    max_clients: room.maxClients,
    private: room.isPrivate,
    created_by: room.createdBy,
    created_at: new Date(room.createdAt).toISOString(),
    last_active_at: new Date(room.lastActiveAt).toISOString(),
    total_clients: totalClients,
  };
}

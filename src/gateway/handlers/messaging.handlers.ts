import { Injectable } from '@nestjs/common';
import { ErrorCode, type MessagePayload, type MessageSendAck } from '#protocol';
import { Permission } from '../../auth/permissions.js';
import { RoomcastError } from '../../common/roomcast-error.js';
import { MessagingService } from '../../messaging/messaging.service.js';
import { PresenceService } from '../../presence/presence.service.js';
import { ReceiptsService } from '../../receipts/receipts.service.js';
import type { Connection } from '../connection.js';
import { HistoryDto, MessageRecallDto } from '../dto/message.dto.js';
import { MessageSendDto } from '../dto/message-send.dto.js';
import { RoomRefDto } from '../dto/room.dto.js';
import type { HandlerContext } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';

const exactlyOne = (a: unknown, b: unknown, names: string) => {
  if ((a === undefined) === (b === undefined))
    throw RoomcastError.badRequest(`exactly one of ${names} is required`);
};

@Injectable()
export class MessagingHandlers {
  constructor(
    private readonly messaging: MessagingService,
    private readonly presence: PresenceService,
    private readonly receipts: ReceiptsService,
  ) {}

  /** Acked once the message is durable. Room messages: members only, the ack carries the seq. */
  @MessageHandler('message.send', { dto: MessageSendDto, permission: Permission.SEND_MESSAGE })
  async send({ connection, requestId }: HandlerContext, dto: MessageSendDto): Promise<MessageSendAck> {
    exactlyOne(dto.room_id, dto.to_device_id, 'room_id and to_device_id');
    const msg = { kind: dto.kind, content: dto.content, mentions: dto.mentions };
    if (dto.to_device_id !== undefined) {
      return (
        await this.messaging.sendDirect(connection, { ...msg, toDeviceId: dto.to_device_id }, requestId)
      ).ack;
    }
    this.assertMember(connection, dto.room_id!);
    return (await this.messaging.sendToRoom(connection, { ...msg, roomId: dto.room_id! }, requestId)).ack;
  }

  /** By its sender within RECALL_WINDOW_MS. */
  @MessageHandler('message.recall', { dto: MessageRecallDto })
  async recall({ connection }: HandlerContext, { message_id }: MessageRecallDto): Promise<{ ok: true }> {
    await this.messaging.recall(connection, message_id);
    return { ok: true };
  }

  @MessageHandler('history', { dto: HistoryDto })
  async history(
    { connection }: HandlerContext,
    dto: HistoryDto,
  ): Promise<{ messages: MessagePayload[]; next_cursor: number | string | null; unread: number }> {
    exactlyOne(dto.room_id, dto.peer_device_id, 'room_id and peer_device_id');
    const ascending = dto.order === 'asc';
    if (dto.room_id !== undefined) {
      if (dto.before !== undefined || dto.after !== undefined)
        throw RoomcastError.badRequest('rooms page by before_seq/after_seq');
      if (dto.before_seq !== undefined && dto.after_seq !== undefined)
        throw RoomcastError.badRequest('before_seq and after_seq cannot be used together');
      this.assertMember(connection, dto.room_id);
      const after = dto.after_seq ?? (ascending ? 0 : undefined);
      const [page, unread] = await Promise.all([
        this.messaging.roomHistory(dto.room_id, { before: dto.before_seq, after, limit: dto.limit }),
        this.receipts.unreadFor(connection.deviceId, { roomId: dto.room_id }),
      ]);
      return { messages: page.messages, next_cursor: page.nextCursor, unread: unread.unread };
    }
    if (dto.before_seq !== undefined || dto.after_seq !== undefined)
      throw RoomcastError.badRequest('conversations page by before/after');
    if (dto.before !== undefined && dto.after !== undefined)
      throw RoomcastError.badRequest('before and after cannot be used together');
    const after = dto.after ?? (ascending ? '' : undefined);
    const [page, unread] = await Promise.all([
      this.messaging.conversationHistory(connection.deviceId, dto.peer_device_id!, {
        before: dto.before,
        after,
        limit: dto.limit,
      }),
      this.receipts.unreadFor(connection.deviceId, { peerDeviceId: dto.peer_device_id! }),
    ]);
    return { messages: page.messages, next_cursor: page.nextCursor, unread: unread.unread };
  }

  /** The room's members and whether each is online (members are live connections, so: all are). */
  @MessageHandler('presence', { dto: RoomRefDto })
  async members(
    { connection }: HandlerContext,
    { room_id }: RoomRefDto,
  ): Promise<{ room_id: string; members: Array<{ device_id: string; identity: string; online: boolean }> }> {
    this.assertMember(connection, room_id);
    const members = await this.presence.members(room_id);
    return {
      room_id,
      members: members.map((m) => ({ device_id: m.deviceId, identity: m.identity, online: true })),
    };
  }

  private assertMember(connection: Connection, roomId: string): void {
    if (!connection.rooms.has(roomId))
      throw new RoomcastError(ErrorCode.FORBIDDEN, `not a member of room ${roomId}`);
  }
}

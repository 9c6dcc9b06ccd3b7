import { Injectable } from '@nestjs/common';
import { ErrorCode, type MessageSendAck } from '#protocol';
import { RoomcastError } from '../../common/roomcast-error.js';
import { MessagingService } from '../../messaging/messaging.service.js';
import { MessageSendDto } from '../dto/message-send.dto.js';
import type { HandlerContext } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';

@Injectable()
export class MessagingHandlers {
  constructor(private readonly messaging: MessagingService) {}

  /** Acked once the message is durable; the ack carries its seq. Members of the room must send. */
  @MessageHandler('message.send', { dto: MessageSendDto })
  async send({ connection, requestId }: HandlerContext, dto: MessageSendDto): Promise<MessageSendAck> {
    if (dto.to_device_id !== undefined) {
      throw new RoomcastError(ErrorCode.BAD_REQUEST, 'direct messages (to_device_id) are not available yet');
    }
    if (!dto.room_id) throw RoomcastError.badRequest('room_id is required');
    if (!connection.rooms.has(dto.room_id))
      throw new RoomcastError(ErrorCode.FORBIDDEN, `not a member of room ${dto.room_id}`);
    const { ack } = await this.messaging.sendToRoom(
      connection,
      { roomId: dto.room_id, kind: dto.kind, content: dto.content, mentions: dto.mentions },
      requestId,
    );
    return ack;
  }
}

import { Injectable } from '@nestjs/common';
import { ErrorCode } from '#protocol';
import { RoomcastError } from '../../common/roomcast-error.js';
import { ReceiptsService } from '../../receipts/receipts.service.js';
import { MessageReadDto } from '../dto/receipts.dto.js';
import type { HandlerContext } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';

@Injectable()
export class ReceiptsHandlers {
  constructor(private readonly receipts: ReceiptsService) {}

  /**
   * Moves the caller's read marker forward; the others are sent a `receipt`. Acked `{ok: true}`
   * also when the marker was already further (nothing is sent then).
   */
  @MessageHandler('message.read', { dto: MessageReadDto })
  async read({ connection }: HandlerContext, dto: MessageReadDto): Promise<{ ok: true }> {
    const room = dto.room_id !== undefined || dto.up_to_seq !== undefined;
    const peer = dto.peer_device_id !== undefined || dto.up_to_message_id !== undefined;
    if (room && !peer && dto.room_id !== undefined && dto.up_to_seq !== undefined) {
      if (!connection.rooms.has(dto.room_id))
        throw new RoomcastError(ErrorCode.FORBIDDEN, `not a member of room ${dto.room_id}`);
      await this.receipts.markRead(connection, { roomId: dto.room_id, upToSeq: dto.up_to_seq });
    } else if (peer && !room && dto.peer_device_id !== undefined && dto.up_to_message_id !== undefined) {
      await this.receipts.markRead(connection, {
        peerDeviceId: dto.peer_device_id,
        upToMessageId: dto.up_to_message_id,
      });
    } else {
      throw RoomcastError.badRequest(
        'message.read takes room_id with up_to_seq, or peer_device_id with up_to_message_id',
      );
    }
    return { ok: true };
  }
}

import { Injectable } from '@nestjs/common';
import { ErrorCode } from '#protocol';
import { RoomcastError } from '../../common/roomcast-error.js';
import { TypingService } from '../../typing/typing.service.js';
import { TypingDto } from '../dto/typing.dto.js';
import type { HandlerContext } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';

@Injectable()
export class TypingHandlers {
  constructor(private readonly typing: TypingService) {}

  /** Fire-and-forget: no ack (a refused frame still gets an `error`). Room typing needs membership. */
  @MessageHandler('typing', { dto: TypingDto })
  typingFrame({ connection }: HandlerContext, dto: TypingDto): void {
    if ((dto.room_id === undefined) === (dto.to_device_id === undefined))
      throw RoomcastError.badRequest('typing takes exactly one of room_id and to_device_id');
    // A copy: the coalescer may hold it for a window after the socket has gone.
    const typist = {
      deviceId: connection.deviceId,
      identity: connection.identity,
      sessionId: connection.sessionId,
    };
    if (dto.room_id !== undefined) {
      if (!connection.rooms.has(dto.room_id))
        throw new RoomcastError(ErrorCode.FORBIDDEN, `not a member of room ${dto.room_id}`);
      this.typing.signal(typist, { roomId: dto.room_id }, dto.state);
    } else {
      this.typing.signal(typist, { toDeviceId: dto.to_device_id! }, dto.state);
    }
  }
}

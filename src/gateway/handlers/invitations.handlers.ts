import { Injectable } from '@nestjs/common';
import { ErrorCode, type RoomInviteAck } from '#protocol';
import { RoomcastError } from '../../common/roomcast-error.js';
import { IsDeviceId } from '../../devices/device-id.js';
import { NotificationsService } from '../../notifications/notifications.service.js';
import { IsRoomId } from '../../rooms/room-id.js';
import type { HandlerContext } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';

export class RoomInviteDto {
  @IsRoomId()
  room_id: string;

  @IsDeviceId()
  device_id: string;
}

@Injectable()
export class InvitationsHandlers {
  constructor(private readonly notifications: NotificationsService) {}

  /**
   * Invites a device to a room the sender is in: it gets `system` kind `invitation` now if
   * it is connected, else at its next handshake. `delivered` says which.
   */
  @MessageHandler('room.invite', { dto: RoomInviteDto })
  async invite({ connection }: HandlerContext, dto: RoomInviteDto): Promise<RoomInviteAck> {
    if (!connection.rooms.has(dto.room_id))
      throw new RoomcastError(ErrorCode.FORBIDDEN, `not a member of room ${dto.room_id}`);
    if (dto.device_id === connection.deviceId) throw RoomcastError.badRequest('cannot invite oneself');
    const result = await this.notifications.invite({
      roomId: dto.room_id,
      from: { deviceId: connection.deviceId, identity: connection.identity },
      deviceId: dto.device_id,
    });
    return { ok: true, delivered: result.delivered > 0 };
  }
}

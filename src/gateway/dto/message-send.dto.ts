import { MESSAGE_KINDS, type MessageKind } from '#protocol';
import { ArrayMaxSize, IsArray, IsDefined, IsIn, IsOptional } from 'class-validator';
import { IsDeviceId } from '../../devices/device-id.js';
import { IsRoomId } from '../../rooms/room-id.js';

/** To a room (`room_id`) or to a device (`to_device_id`): exactly one of the two. */
export class MessageSendDto {
  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @IsOptional()
  @IsDeviceId()
  to_device_id?: string;

  @IsIn(MESSAGE_KINDS)
  kind: MessageKind;

  @IsDefined()
  content: unknown;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsDeviceId(true)
  mentions?: string[];
}

import { IsInt, IsOptional, IsString, Length, Min } from 'class-validator';
import { IsDeviceId } from '../../devices/device-id.js';
import { IsRoomId } from '../../rooms/room-id.js';

/** `message.read`: `room_id` + `up_to_seq`, or `peer_device_id` + `up_to_message_id` (the handler checks the pairing). */
export class MessageReadDto {
  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  up_to_seq?: number;

  @IsOptional()
  @IsDeviceId()
  peer_device_id?: string;

  @IsOptional()
  @IsString()
  @Length(1, 64)
  up_to_message_id?: string;
}

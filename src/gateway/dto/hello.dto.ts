import { IsObject, IsOptional, IsString, Length } from 'class-validator';
import { IsDeviceId } from '../../devices/device-id.js';
import { IsRoomId } from '../../rooms/room-id.js';

export class HelloDto {
  @IsDeviceId()
  device_id: string;

  @IsString()
  @Length(1, 128)
  identity: string;

  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @IsOptional()
  @IsString()
  @Length(1, 8192)
  token?: string;

  /** room_id -> last seq seen; replay arrives with the messaging issue. */
  @IsOptional()
  @IsObject()
  resume?: Record<string, unknown>;
}

import { IsObject, IsOptional, IsString, Length, Matches } from 'class-validator';
import { CLIENT_ROOM_ID } from '../../rooms/room-id.js';

export const DEVICE_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

export class HelloDto {
  @IsString()
  @Matches(DEVICE_ID, { message: 'device_id must be 1-128 characters of [A-Za-z0-9_.:@-]' })
  device_id: string;

  @IsString()
  @Length(1, 128)
  identity: string;

  @IsOptional()
  @IsString()
  @Matches(CLIENT_ROOM_ID, { message: 'room_id must be 1-64 characters of [A-Za-z0-9_-]' })
  room_id?: string;

  @IsOptional()
  @IsString()
  @Length(1, 8192)
  token?: string;

  /** room_id -> last seq seen; replay arrives with the messaging issue. */
  @IsOptional()
  @IsObject()
  resume?: Record<string, number>;
}

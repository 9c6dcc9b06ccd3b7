import { MESSAGE_KINDS, type MessageKind } from '#protocol';
import { ArrayMaxSize, IsArray, IsDefined, IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { CLIENT_ROOM_ID } from '../../rooms/room-id.js';
import { DEVICE_ID } from './hello.dto.js';

export class MessageSendDto {
  @IsOptional()
  @IsString()
  @Matches(CLIENT_ROOM_ID, { message: 'room_id must be 1-64 characters of [A-Za-z0-9_-]' })
  room_id?: string;

  @IsOptional()
  @IsString()
  @Matches(DEVICE_ID, { message: 'to_device_id must be a device id' })
  to_device_id?: string;

  @IsIn(MESSAGE_KINDS)
  kind: MessageKind;

  @IsDefined()
  content: unknown;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Matches(DEVICE_ID, { each: true })
  mentions?: string[];
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MESSAGE_KINDS, type MessageKind } from '#protocol';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { IsDeviceId } from '../../devices/device-id.js';
import { CLIENT_ROOM_ID, IsRoomId } from '../../rooms/room-id.js';

export class RoomParamsDto {
  @ApiProperty({ description: 'Room id', example: 'ROOM0001', pattern: CLIENT_ROOM_ID.source })
  @IsRoomId()
  id: string;
}

export class ListRoomsQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    default: 0,
    description: 'Rooms to skip (oldest first)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  offset: number = 0;
}

export class CreateRoomDto {
  @ApiPropertyOptional({
    description: 'Chosen id; a fresh 8-character id when absent',
    example: 'ROOM0001',
    pattern: CLIENT_ROOM_ID.source,
  })
  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 200, example: 'Lobby' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 1_000_000,
    description: 'Capacity; absent: the server-wide ROOM_MAX_CLIENTS',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  max_clients?: number;

  @ApiPropertyOptional({
    description: 'Only devices on its member list may join (PUT /api/rooms/{id}/members/{device_id})',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  private?: boolean;
}

export class RoomDto {
  @ApiProperty({ example: 'ROOM0001' })
  room_id: string;

  @ApiProperty({ type: String, nullable: true })
  name: string | null;

  @ApiProperty({ type: 'integer', description: '0: the server-wide ROOM_MAX_CLIENTS applies' })
  max_clients: number;

  @ApiProperty({ description: 'Only devices on its member list may join' })
  private: boolean;

  @ApiProperty({ type: String, nullable: true, description: 'Device id of the creator, or "admin"' })
  created_by: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time' })
  last_active_at: string;

  @ApiProperty({ type: 'integer', description: 'Members connected now' })
  total_clients: number;
}

export class RoomListDto {
  @ApiProperty({ type: [RoomDto] })
  rooms: RoomDto[];

  @ApiProperty({ type: 'integer', description: 'Rooms in all' })
  total: number;
}

export class MemberDto {
  @ApiProperty()
  device_id: string;

  @ApiProperty()
  identity: string;

  @ApiProperty()
  session_id: string;

  @ApiProperty({ description: 'The node the member is connected to' })
  node_id: string;
}

export class RoomDetailDto extends RoomDto {
  @ApiProperty({ type: [MemberDto] })
  members: MemberDto[];
}

export class RoomMemberParamsDto extends RoomParamsDto {
  @ApiProperty({ description: 'Device id', example: 'device_123' })
  @IsDeviceId()
  device_id: string;
}

export class RoomMemberDto {
  @ApiProperty()
  device_id: string;

  @ApiProperty({ type: String, nullable: true, description: 'The device that invited it, or "admin"' })
  added_by: string | null;

  @ApiProperty({ format: 'date-time' })
  added_at: string;
}

export class RoomMemberListDto {
  @ApiProperty()
  room_id: string;

  @ApiProperty({ type: [RoomMemberDto], description: 'Devices allowed into the private room' })
  members: RoomMemberDto[];
}

export class CloseRoomResultDto {
  @ApiProperty()
  room_id: string;

  @ApiProperty({ type: 'integer', description: 'Connections on this node told `room_closed`' })
  notified: number;
}

export class HistoryQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    description: 'Messages with a lower seq, newest first (default: from the newest)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  before_seq?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description: 'Messages with a higher seq, oldest first; not with before_seq',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  after_seq?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 50;
}

export class SenderDto {
  @ApiProperty()
  device_id: string;

  @ApiProperty()
  identity: string;
}

export class MessageDto {
  @ApiProperty()
  message_id: string;

  @ApiPropertyOptional()
  room_id?: string;

  @ApiPropertyOptional()
  to_device_id?: string;

  @ApiProperty({ type: SenderDto })
  from: SenderDto;

  @ApiPropertyOptional({ type: 'integer', description: 'Per-room sequence, gap-free' })
  seq?: number;

  @ApiProperty({ type: 'integer', description: 'Server time of acceptance, ms since epoch' })
  ts: number;

  @ApiProperty({ enum: MESSAGE_KINDS })
  kind: MessageKind;

  @ApiProperty({
    description: 'A string for text, any JSON value otherwise',
    oneOf: [{ type: 'string' }, { type: 'object' }, { type: 'array', items: {} }],
  })
  content: unknown;

  @ApiPropertyOptional({ type: [String] })
  mentions?: string[];
}

export class MessagePageDto {
  @ApiProperty({ type: [MessageDto], description: 'Newest first; oldest first with after_seq' })
  messages: MessageDto[];

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Pass as before_seq (or after_seq) for the next page; null at the end',
  })
  next_cursor: number | null;
}

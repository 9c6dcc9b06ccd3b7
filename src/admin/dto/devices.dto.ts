import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { DEVICE_ID, IsDeviceId } from '../../devices/device-id.js';
import { CLIENT_ROOM_ID } from '../../rooms/room-id.js';

export class DeviceIdParamsDto {
  @ApiProperty({ description: 'Device id', pattern: DEVICE_ID.source })
  @IsDeviceId()
  id: string;
}

export class ConnectionsQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 50;
}

export class ConnectionDto {
  @ApiProperty()
  session_id: string;

  @ApiProperty()
  device_id: string;

  @ApiProperty({ type: String, nullable: true, description: 'Primary room at the handshake' })
  room_id: string | null;

  @ApiProperty()
  identity: string;

  @ApiProperty()
  client_ip: string;

  @ApiProperty()
  node_id: string;

  @ApiProperty({ format: 'date-time' })
  connected_at: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'null while connected (or when the node died)',
  })
  disconnected_at: string | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'WebSocket close code' })
  close_code: number | null;
}

export class ConnectionListDto {
  @ApiProperty({ type: [ConnectionDto], description: 'Newest first' })
  connections: ConnectionDto[];
}

/** `a,b` and repeated parameters (`?rooms=a&rooms=b`) both give a list. */
const commaList = ({ value }: { value: unknown }) =>
  (Array.isArray(value) ? value : [value])
    .flatMap((v) => (typeof v === 'string' ? v.split(',') : [v]))
    .filter((v) => v !== '');

export class UnreadQueryDto {
  @ApiPropertyOptional({
    type: String,
    description: 'Comma-separated room ids to count even without read state (at most 100)',
    example: 'LOBBY,TEAM-7',
  })
  @IsOptional()
  @Transform(commaList)
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Matches(CLIENT_ROOM_ID, {
    each: true,
    message: 'rooms must be room ids of 1-64 characters of [A-Za-z0-9_-]',
  })
  rooms?: string[];

  @ApiPropertyOptional({
    type: String,
    description: 'Comma-separated peer device ids to count even without read state or messages (at most 100)',
    example: 'device_123',
  })
  @IsOptional()
  @Transform(commaList)
  @IsArray()
  @ArrayMaxSize(100)
  @IsDeviceId(true)
  peers?: string[];
}

export class RoomUnreadDto {
  @ApiProperty()
  room_id: string;

  @ApiProperty({ type: 'integer', description: 'last_seq − up_to_seq (never negative)' })
  unread: number;

  @ApiProperty({ type: 'integer', description: 'Messages up to this seq are read; 0 when none' })
  up_to_seq: number;

  @ApiProperty({ type: 'integer', description: "The room's latest seq (0 for no messages)" })
  last_seq: number;
}

export class PeerUnreadDto {
  @ApiProperty({ description: 'The other device of the direct conversation' })
  peer_device_id: string;

  @ApiProperty({
    type: 'integer',
    description: 'Messages from the peer after the read marker, recalled ones excepted',
  })
  unread: number;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The last message read (the conversation is read up to it); null when none',
  })
  up_to_message_id: string | null;
}

export class DeviceUnreadDto {
  @ApiProperty()
  device_id: string;

  @ApiProperty({
    type: [RoomUnreadDto],
    description: 'Rooms the device has read state for, and the rooms asked for; by room id',
  })
  rooms: RoomUnreadDto[];

  @ApiProperty({
    type: [PeerUnreadDto],
    description:
      'Conversations the device has read state for, devices that sent it direct messages, and the peers asked for; by device id',
  })
  peers: PeerUnreadDto[];
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  Equals,
  IsArray,
  IsDefined,
  IsOptional,
  IsString,
  Matches,
} from 'class-validator';
import { DEVICE_ID, IsDeviceId } from '../../devices/device-id.js';
import { CLIENT_ROOM_ID, IsRoomId } from '../../rooms/room-id.js';

export const MAX_NOTIFY_DEVICES = 1000;

/** Exactly one of `device_ids`, `room_id` and `everyone` (else 400). */
export class NotifyDto {
  @ApiPropertyOptional({
    type: [String],
    minItems: 1,
    maxItems: MAX_NOTIFY_DEVICES,
    items: { type: 'string', pattern: DEVICE_ID.source },
    description: 'These devices: live when connected, else kept offline until their next handshake',
    example: ['device_123'],
  })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_NOTIFY_DEVICES)
  @IsDeviceId(true)
  device_ids?: string[];

  @ApiPropertyOptional({
    description:
      "The room's members connected now (live only: rooms keep no durable member list, so nothing is kept offline)",
    pattern: CLIENT_ROOM_ID.source,
  })
  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @ApiPropertyOptional({
    enum: [true],
    description:
      'Every client connected to this node, and kept offline for every other device seen within OFFLINE_TTL_MS',
  })
  @IsOptional()
  // The value as sent: the pipe's implicit conversion would turn "false" into true.
  @Transform(({ obj }: { obj: Record<string, unknown> }) => obj.everyone)
  @Equals(true, { message: 'everyone must be true (omit it for other targets)' })
  everyone?: true;

  @ApiPropertyOptional({
    default: 'notification',
    pattern: '^[a-z][a-z0-9_.-]{0,63}$',
    example: 'notification',
    description: 'The `kind` of the `system` event',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9_.-]{0,63}$/, {
    message: 'kind must be 1-64 characters of [a-z0-9_.-], starting with a letter',
  })
  kind: string = 'notification';

  @ApiProperty({
    description: 'Any JSON value, delivered as `payload`',
    example: { text: 'your export is ready' },
  })
  @IsDefined()
  payload: unknown;
}

export class NotifyResultDto {
  @ApiProperty({ description: 'Id of this notification (UUIDv7)' })
  notification_id: string;

  @ApiProperty({ type: 'integer', description: 'Connections the `system` event was written to now' })
  delivered: number;

  @ApiProperty({ type: 'integer', description: 'Devices it was kept for as an offline item' })
  stored: number;
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { DEVICE_ID, IsDeviceId } from '../../devices/device-id.js';

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

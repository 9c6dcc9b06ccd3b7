import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { DEVICE_ID, IsDeviceId } from '../../devices/device-id.js';
import { CLIENT_ROOM_ID, IsRoomId } from '../../rooms/room-id.js';

export class ClientsQueryDto {
  @ApiPropertyOptional({ description: 'Only the clients in this room', pattern: CLIENT_ROOM_ID.source })
  @IsOptional()
  @IsRoomId()
  room_id?: string;
}

export class DeviceParamsDto {
  @ApiProperty({ description: 'Device id', pattern: DEVICE_ID.source })
  @IsDeviceId()
  deviceId: string;
}

export class KickQueryDto {
  @ApiPropertyOptional({
    maxLength: 200,
    description: 'Told to the client in its `system` kind `kicked` event',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  reason?: string;
}

export class ClientDto {
  @ApiProperty()
  session_id: string;

  @ApiProperty()
  device_id: string;

  @ApiProperty()
  identity: string;

  @ApiProperty()
  client_ip: string;

  @ApiProperty()
  node_id: string;

  @ApiProperty({ type: [String] })
  rooms: string[];

  @ApiProperty({ type: String, nullable: true })
  primary_room: string | null;

  @ApiProperty({ format: 'date-time' })
  connected_at: string;
}

export class ClientListDto {
  @ApiProperty({ type: [ClientDto], description: 'Connections on this node' })
  clients: ClientDto[];
}

export class KickResultDto {
  @ApiProperty()
  device_id: string;

  @ApiProperty({ description: 'Always true: a device that is not connected answers 404' })
  kicked: boolean;
}

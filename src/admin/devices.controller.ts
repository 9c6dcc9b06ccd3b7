import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApi } from './admin-token.guard.js';
import { DeviceConnectionsService } from './device-connections.service.js';
import { ReceiptsService } from '../receipts/receipts.service.js';
import {
  ConnectionListDto,
  ConnectionsQueryDto,
  DeviceIdParamsDto,
  DeviceUnreadDto,
  UnreadQueryDto,
} from './dto/devices.dto.js';
import { ApiErrors } from './dto/error.dto.js';

@AdminApi('devices')
@Controller('api/devices')
export class DevicesController {
  constructor(
    private readonly connections: DeviceConnectionsService,
    private readonly receipts: ReceiptsService,
  ) {}

  @Get(':id/connections')
  @ApiOperation({ summary: "The device's recorded connections (audit), newest first" })
  @ApiOkResponse({ type: ConnectionListDto })
  @ApiErrors({ 400: 'Invalid device id or limit' })
  async list(
    @Param() params: DeviceIdParamsDto,
    @Query() query: ConnectionsQueryDto,
  ): Promise<ConnectionListDto> {
    return { connections: await this.connections.recent(params.id, query.limit) };
  }

  @Get(':id/unread')
  @ApiOperation({
    summary: 'Unread counts of the device, per room and per direct conversation',
    description:
      'Rooms: last seq − the read marker. Conversations: messages from the peer after the marker, ' +
      'recalled ones excepted. Lists what the device has read state for, the devices that sent it ' +
      'direct messages, and the rooms and peers asked for (also at 0).',
  })
  @ApiOkResponse({ type: DeviceUnreadDto })
  @ApiErrors({ 400: 'Invalid device id, room id or peer id' })
  async unread(@Param() params: DeviceIdParamsDto, @Query() query: UnreadQueryDto): Promise<DeviceUnreadDto> {
    const unread = await this.receipts.unread(params.id, { rooms: query.rooms, peers: query.peers });
    return {
      device_id: unread.deviceId,
      rooms: unread.rooms.map((r) => ({
        room_id: r.roomId,
        unread: r.unread,
        up_to_seq: r.upToSeq,
        last_seq: r.lastSeq,
      })),
      peers: unread.peers.map((p) => ({
        peer_device_id: p.peerDeviceId,
        unread: p.unread,
        up_to_message_id: p.upToMessageId,
      })),
    };
  }
}

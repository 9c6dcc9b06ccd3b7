import { Controller, Delete, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { RoomcastError } from '../common/roomcast-error.js';
import { SessionsService } from '../gateway/index.js';
import { AdminApi } from './admin-token.guard.js';
import {
  ClientListDto,
  ClientsQueryDto,
  DeviceParamsDto,
  KickQueryDto,
  KickResultDto,
} from './dto/clients.dto.js';
import { ApiErrors } from './dto/error.dto.js';

@AdminApi('clients')
@Controller('api/clients')
export class ClientsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  @ApiOperation({ summary: 'Clients connected to any node of the cluster, optionally of one room' })
  @ApiOkResponse({ type: ClientListDto })
  @ApiErrors({ 400: 'Invalid room id' })
  async list(@Query() query: ClientsQueryDto): Promise<ClientListDto> {
    return { clients: await this.sessions.clients(query.room_id) };
  }

  @Delete(':deviceId')
  @ApiOperation({
    summary: 'Kick a device: it gets `system` kind `kicked`, then its socket closes with 4403',
  })
  @ApiOkResponse({ type: KickResultDto })
  @ApiErrors({ 400: 'Invalid device id', 404: 'The device is not connected to any node' })
  async kick(@Param() params: DeviceParamsDto, @Query() query: KickQueryDto): Promise<KickResultDto> {
    const kicked = await this.sessions.kick(params.deviceId, query.reason);
    if (!kicked) throw RoomcastError.notFound(`device ${params.deviceId} is not connected`);
    return { device_id: params.deviceId, kicked };
  }
}

import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApi } from './admin-token.guard.js';
import { DeviceConnectionsService } from './device-connections.service.js';
import { ConnectionListDto, ConnectionsQueryDto, DeviceIdParamsDto } from './dto/devices.dto.js';
import { ApiErrors } from './dto/error.dto.js';

@AdminApi('devices')
@Controller('api/devices')
export class DevicesController {
  constructor(private readonly connections: DeviceConnectionsService) {}

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
}

import { Body, Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { StatusService } from '../status/status.service.js';
import { AdminApi } from './admin-token.guard.js';
import { AdminRoomsService } from './admin-rooms.service.js';
import { ApiErrors } from './dto/error.dto.js';
import { BroadcastDto, BroadcastResultDto, StatsDto } from './dto/stats.dto.js';

@AdminApi('node')
@Controller('api')
export class StatsController {
  constructor(
    private readonly status: StatusService,
    private readonly rooms: AdminRoomsService,
  ) {}

  @Get('stats')
  @ApiOperation({
    summary:
      'This node: connections, occupied rooms, messages per minute, queue depth, load (event-loop lag, CPU, frame rates), memory; and the cluster per node',
  })
  @ApiOkResponse({ type: StatsDto })
  stats(): Promise<StatsDto> {
    return this.status.snapshot();
  }

  @Post('broadcast')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: "Send a `system` event to a room's members, or to every client of this node" })
  @ApiOkResponse({ type: BroadcastResultDto })
  @ApiErrors({ 400: 'Invalid body', 404: 'No such room' })
  async broadcast(@Body() body: BroadcastDto): Promise<BroadcastResultDto> {
    return { recipients: await this.rooms.broadcast(body) };
  }
}

import { Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApi } from './admin-token.guard.js';
import { AdminQueuesService } from './admin-queues.service.js';
import { ApiErrors } from './dto/error.dto.js';
import {
  FailedJobListDto,
  FailedJobsQueryDto,
  QueueListDto,
  QueueParamsDto,
  RetryResultDto,
} from './dto/queues.dto.js';

@AdminApi('queues')
@Controller('api/queues')
export class QueuesController {
  constructor(private readonly queues: AdminQueuesService) {}

  @Get()
  @ApiOperation({ summary: 'Jobs per queue and state' })
  @ApiOkResponse({ type: QueueListDto })
  @ApiErrors({ 503: 'The queues are unreachable' })
  async counts(): Promise<QueueListDto> {
    return { queues: await this.queues.counts() };
  }

  @Get(':name/failed')
  @ApiOperation({ summary: 'Dead-lettered jobs of a queue (every attempt failed), newest first' })
  @ApiOkResponse({ type: FailedJobListDto })
  @ApiErrors({ 400: 'Unknown queue or invalid limit', 503: 'The queues are unreachable' })
  async failed(
    @Param() params: QueueParamsDto,
    @Query() query: FailedJobsQueryDto,
  ): Promise<FailedJobListDto> {
    return { jobs: await this.queues.failed(params.name, query.limit) };
  }

  @Post(':name/retry-failed')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Move every dead-lettered job of the queue back to waiting' })
  @ApiOkResponse({ type: RetryResultDto })
  @ApiErrors({ 400: 'Unknown queue', 503: 'The queues are unreachable' })
  async retryFailed(@Param() params: QueueParamsDto): Promise<RetryResultDto> {
    return { retried: await this.queues.retryFailed(params.name) };
  }
}

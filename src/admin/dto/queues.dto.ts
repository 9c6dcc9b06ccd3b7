import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsInt, IsOptional, Max, Min } from 'class-validator';
import { QueueName } from '../../persistence/job-registry.js';

export class QueueParamsDto {
  @ApiProperty({ enum: QueueName, enumName: 'QueueName' })
  @IsEnum(QueueName, { message: `name must be one of: ${Object.values(QueueName).join(', ')}` })
  name: QueueName;
}

export class FailedJobsQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 50 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 50;
}

export class QueueCountsDto {
  @ApiProperty({ enum: QueueName, enumName: 'QueueName' })
  name: QueueName;

  @ApiProperty({ type: 'integer' })
  waiting: number;

  @ApiProperty({ type: 'integer' })
  active: number;

  @ApiProperty({ type: 'integer', description: 'Waiting for a retry (backoff)' })
  delayed: number;

  @ApiProperty({ type: 'integer', description: 'Recently completed (kept for a while)' })
  completed: number;

  @ApiProperty({ type: 'integer', description: 'Dead-lettered: every attempt failed' })
  failed: number;
}

export class QueueListDto {
  @ApiProperty({ type: [QueueCountsDto] })
  queues: QueueCountsDto[];
}

export class FailedJobDto {
  @ApiProperty()
  id: string;

  @ApiProperty({ example: 'message.persist' })
  name: string;

  @ApiProperty({ enum: QueueName, enumName: 'QueueName' })
  queue: QueueName;

  @ApiProperty({ type: 'integer' })
  attempts_made: number;

  @ApiProperty()
  failed_reason: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The job payload' })
  data: unknown;

  @ApiProperty({ type: 'integer', nullable: true, description: 'ms since epoch' })
  failed_at: number | null;
}

export class FailedJobListDto {
  @ApiProperty({ type: [FailedJobDto], description: 'Newest first' })
  jobs: FailedJobDto[];
}

export class RetryResultDto {
  @ApiProperty({ type: 'integer', description: 'Jobs moved back to waiting' })
  retried: number;
}

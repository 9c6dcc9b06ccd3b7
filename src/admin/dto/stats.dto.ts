import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsOptional, IsString, Matches } from 'class-validator';
import { CLIENT_ROOM_ID, IsRoomId } from '../../rooms/room-id.js';
import { QueueCountsDto } from './queues.dto.js';

export class EventLoopLagDto {
  @ApiProperty({ description: 'Mean delay of the event loop beyond its expected tick, ms' })
  mean: number;

  @ApiProperty({ description: '99th percentile, ms' })
  p99: number;

  @ApiProperty({ description: 'Longest delay in the window, ms' })
  max: number;
}

export class NodeLoadDto {
  @ApiProperty({
    description:
      'Seconds the figures cover: the last LOAD_WINDOW_MS window (since start, before the first one ends)',
  })
  window_s: number;

  @ApiProperty({ type: EventLoopLagDto })
  event_loop_lag_ms: EventLoopLagDto;

  @ApiProperty({ description: 'Process CPU time (user + system) over wall time, %: 100 is one core busy' })
  cpu_percent: number;

  @ApiProperty({ description: 'WebSocket frames received per second' })
  frames_in_per_s: number;

  @ApiProperty({ description: 'WebSocket frames written per second (each recipient of a broadcast counts)' })
  frames_out_per_s: number;
}

export class NodeDto {
  @ApiProperty()
  node_id: string;

  @ApiProperty({ enum: ['all', 'gateway', 'worker'] })
  role: string;

  @ApiProperty({ type: 'integer', description: 'Handshaken connections at its last heartbeat' })
  connections: number;

  @ApiProperty({ format: 'date-time' })
  started_at: string;

  @ApiProperty({ format: 'date-time' })
  heartbeat_at: string;

  @ApiPropertyOptional({ type: NodeLoadDto, description: 'Its load, as of its last heartbeat' })
  load?: NodeLoadDto;
}

export class ClusterDto {
  @ApiProperty({ type: [NodeDto], description: 'Gateway nodes with a live heartbeat' })
  nodes: NodeDto[];

  @ApiProperty({ type: 'integer', description: 'Handshaken connections on every node' })
  connections: number;
}

export class MemoryDto {
  @ApiProperty({ type: 'integer' })
  rss_bytes: number;

  @ApiProperty({ type: 'integer' })
  heap_used_bytes: number;

  @ApiProperty({ type: 'integer' })
  heap_total_bytes: number;

  @ApiProperty({ type: 'integer' })
  external_bytes: number;
}

export class StatsDto {
  @ApiProperty()
  node_id: string;

  @ApiProperty({ enum: ['embedded', 'redis'] })
  mode: 'embedded' | 'redis';

  @ApiProperty({ enum: ['all', 'gateway', 'worker'] })
  role: 'all' | 'gateway' | 'worker';

  @ApiProperty({ type: 'integer', description: 'Seconds since this node started' })
  uptime_s: number;

  @ApiProperty({ type: 'integer', description: 'Handshaken WebSocket connections on this node' })
  connections: number;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'Rooms with at least one member, cluster-wide (null when presence could not be read)',
  })
  rooms: number | null;

  @ApiProperty({ type: 'integer', description: 'Messages accepted by this node in the last 60 seconds' })
  messages_per_min: number;

  @ApiProperty({
    type: [QueueCountsDto],
    nullable: true,
    description: 'null when the queues could not be read in time',
  })
  queues: QueueCountsDto[] | null;

  @ApiPropertyOptional({ description: 'Why queues is null' })
  queues_error?: string;

  @ApiProperty({
    type: ClusterDto,
    nullable: true,
    description: 'null when presence could not be read in time',
  })
  cluster: ClusterDto | null;

  @ApiPropertyOptional({ description: 'Why cluster is null' })
  cluster_error?: string;

  @ApiProperty({ type: NodeLoadDto, description: "This node's load over the last window" })
  load: NodeLoadDto;

  @ApiProperty({ type: MemoryDto })
  memory: MemoryDto;
}

export class BroadcastDto {
  @ApiPropertyOptional({
    description: "The room's members; absent: every client connected to this node",
    pattern: CLIENT_ROOM_ID.source,
  })
  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @ApiPropertyOptional({
    default: 'announcement',
    pattern: '^[a-z][a-z0-9_.-]{0,63}$',
    example: 'announcement',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9_.-]{0,63}$/, {
    message: 'kind must be 1-64 characters of [a-z0-9_.-], starting with a letter',
  })
  kind: string = 'announcement';

  @ApiProperty({
    description: 'Any JSON value, delivered as `payload`',
    example: { text: 'maintenance at 22:00' },
  })
  @IsDefined()
  payload: unknown;
}

export class BroadcastResultDto {
  @ApiProperty({ type: 'integer', description: 'Connections the `system` event was written to' })
  recipients: number;
}

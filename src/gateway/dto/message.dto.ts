import { IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { IsDeviceId } from '../../devices/device-id.js';
import { IsRoomId } from '../../rooms/room-id.js';

export class MessageRecallDto {
  @IsString()
  @Length(1, 64)
  message_id: string;
}

/**
 * A page of a room (`room_id`, cursors are seqs) or of a direct conversation
 * (`peer_device_id`, cursors are message ids). `before*` pages newest first, `after*` oldest first.
 */
export class HistoryDto {
  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @IsOptional()
  @IsDeviceId()
  peer_device_id?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  before_seq?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  after_seq?: number;

  @IsOptional()
  @IsString()
  @Length(1, 64)
  before?: string;

  @IsOptional()
  @IsString()
  @Length(1, 64)
  after?: string;

  @IsInt()
  @Min(1)
  @Max(100)
  limit: number;

  /** Shorthand for paging from the start: `asc` is `after_seq: 0` (rooms) or `after: ""`. */
  @IsOptional()
  @IsIn(['desc', 'asc'])
  order?: 'desc' | 'asc';
}

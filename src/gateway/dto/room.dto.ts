import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { IsRoomId } from '../../rooms/room-id.js';

export class RoomRefDto {
  @IsRoomId()
  room_id: string;
}

export class OptionalRoomRefDto {
  @IsOptional()
  @IsRoomId()
  room_id?: string;
}

export class RoomCreateDto extends OptionalRoomRefDto {
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  max_clients?: number;

  /** Only the creator, devices it invites and those an operator adds may join. */
  @IsOptional()
  @IsBoolean()
  private?: boolean;
}

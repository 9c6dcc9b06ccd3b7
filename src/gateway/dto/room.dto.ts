import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { CLIENT_ROOM_ID } from '../../rooms/room-id.js';

const ROOM_ID_MESSAGE = { message: 'room_id must be 1-64 characters of [A-Za-z0-9_-]' };

export class RoomRefDto {
  @IsString()
  @Matches(CLIENT_ROOM_ID, ROOM_ID_MESSAGE)
  room_id: string;
}

export class OptionalRoomRefDto {
  @IsOptional()
  @IsString()
  @Matches(CLIENT_ROOM_ID, ROOM_ID_MESSAGE)
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
}

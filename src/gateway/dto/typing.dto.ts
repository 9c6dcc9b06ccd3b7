import { IsIn, IsOptional } from 'class-validator';
import { IsDeviceId } from '../../devices/device-id.js';
import { IsRoomId } from '../../rooms/room-id.js';
import type { TypingState } from '../../typing/typing.service.js';

export const TYPING_STATES: readonly TypingState[] = ['start', 'stop'];

/** `typing`: exactly one of `room_id` and `to_device_id` (the handler checks it). */
export class TypingDto {
  @IsOptional()
  @IsRoomId()
  room_id?: string;

  @IsOptional()
  @IsDeviceId()
  to_device_id?: string;

  @IsIn(TYPING_STATES)
  state: TypingState;
}

import { Injectable } from '@nestjs/common';
import { ErrorCode } from '#protocol';
import { RoomcastError } from '../../src/common/roomcast-error.js';
import { MessageHandler, SessionsService, type HandlerContext } from '../../src/gateway/index.js';
import { RollDto } from './dice.dto.js';
import { DiceService } from './dice.service.js';

/** The socket edge of the module: validated input in, ack data out. */
@Injectable()
export class DiceHandlers {
  constructor(
    private readonly dice: DiceService,
    private readonly sessions: SessionsService,
  ) {}

  /** `{"type":"dice.roll","id":"r1","data":{"sides":20}}` → ack `{value}`, and the room is told. */
  @MessageHandler('dice.roll', { dto: RollDto })
  async roll(
    { connection }: HandlerContext,
    { sides = 6 }: RollDto,
  ): Promise<{ value: number; sides: number }> {
    if (!connection.primaryRoom) throw new RoomcastError(ErrorCode.NOT_FOUND, 'join a room to roll dice');
    const value = this.dice.roll(sides);
    await this.sessions.announce(connection.primaryRoom, 'dice', {
      device_id: connection.deviceId,
      sides,
      value,
    });
    return { value, sides };
  }

  @MessageHandler('dice.stats')
  stats({ connection }: HandlerContext): { messages: number } {
    return { messages: connection.primaryRoom ? this.dice.messagesIn(connection.primaryRoom) : 0 };
  }
}

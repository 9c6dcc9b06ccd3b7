import { randomInt } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { Lifecycle, type MessageCreatedEvent } from '../../src/common/lifecycle-events.js';

/** Plain domain logic: knows nothing of sockets. */
@Injectable()
export class DiceService {
  private readonly messagesSeen = new Map<string, number>();

  roll(sides: number): number {
    return randomInt(1, sides + 1);
  }

  /** Lifecycle events reach any module that subscribes; here, a per-room message count. */
  @OnEvent(Lifecycle.MessageCreated)
  countMessage(event: MessageCreatedEvent): void {
    const roomId = event.message.room_id;
    if (roomId) this.messagesSeen.set(roomId, (this.messagesSeen.get(roomId) ?? 0) + 1);
  }

  messagesIn(roomId: string): number {
    return this.messagesSeen.get(roomId) ?? 0;
  }
}

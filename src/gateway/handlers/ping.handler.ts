import { Injectable } from '@nestjs/common';
import { EventReply } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';

@Injectable()
export class PingHandler {
  @MessageHandler('ping')
  ping(): EventReply<{ ts: number }> {
    return new EventReply('pong', { ts: Date.now() });
  }
}

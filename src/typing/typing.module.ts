import { Module } from '@nestjs/common';
import { TypingService } from './typing.service.js';

/** Typing indicators (live only). Reaches clients through LiveDelivery; the `typing` handler lives in the gateway. */
@Module({
  providers: [TypingService],
  exports: [TypingService],
})
export class TypingModule {}

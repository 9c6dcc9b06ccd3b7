import { Module } from '@nestjs/common';
import { GatewayModule } from '../../src/gateway/gateway.module.js';
import { DiceHandlers } from './dice.handlers.js';
import { DiceService } from './dice.service.js';

/** A complete custom module: a service, frame handlers, an event listener. See docs/extending.md. */
@Module({
  imports: [GatewayModule],
  providers: [DiceService, DiceHandlers],
})
export class DiceModule {}

import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MessageEntity } from '../messaging/message.entity.js';
import { MessagingModule } from '../messaging/messaging.module.js';
import { ReadStateEntity } from './read-state.entity.js';
import { ReceiptsService } from './receipts.service.js';

/**
 * Read state, receipts and unread counts. Reaches clients through LiveDelivery (bound by the
 * gateway); the `message.read` handler lives in the gateway, the read-state writer in
 * persistence (it runs in worker processes).
 */
@Module({
  imports: [TypeOrmModule.forFeature([ReadStateEntity, MessageEntity]), MessagingModule],
  providers: [ReceiptsService],
  exports: [ReceiptsService],
})
export class ReceiptsModule {}

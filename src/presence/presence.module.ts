import { Module } from '@nestjs/common';
import { PresenceService } from './presence.service.js';
import { InMemoryPresenceStore, PresenceStore } from './presence.store.js';

@Module({
  providers: [PresenceService, { provide: PresenceStore, useClass: InMemoryPresenceStore }],
  exports: [PresenceService],
})
export class PresenceModule {}

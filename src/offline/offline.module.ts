import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OfflineItemEntity } from './offline-item.entity.js';
import { OfflineService } from './offline.service.js';

/**
 * The offline inbox of devices (OfflineService). Its removals run as jobs (OfflineProcessor,
 * registered with the other processors in PersistenceModule, so worker processes have it).
 */
@Module({
  imports: [TypeOrmModule.forFeature([OfflineItemEntity])],
  providers: [OfflineService],
  exports: [OfflineService],
})
export class OfflineModule {}

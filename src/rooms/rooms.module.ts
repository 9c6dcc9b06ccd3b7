import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PresenceModule } from '../presence/presence.module.js';
import { RoomEntity } from './room.entity.js';
import { RoomsService } from './rooms.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([RoomEntity]), PresenceModule],
  providers: [RoomsService],
  exports: [RoomsService],
})
export class RoomsModule {}

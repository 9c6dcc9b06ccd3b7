import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PresenceModule } from '../presence/presence.module.js';
import { RoomMemberEntity } from './room-member.entity.js';
import { RoomEntity } from './room.entity.js';
import { RoomsService } from './rooms.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([RoomEntity, RoomMemberEntity]), PresenceModule],
  providers: [RoomsService],
  exports: [RoomsService],
})
export class RoomsModule {}

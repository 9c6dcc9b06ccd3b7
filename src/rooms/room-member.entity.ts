import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A device allowed into a private room. */
@Entity('room_members')
export class RoomMemberEntity {
  @PrimaryColumn({ name: 'room_id', type: 'varchar', length: 64 })
  roomId: string;

  @PrimaryColumn({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId: string;

  @Column({ name: 'added_by', type: 'varchar', length: 128, nullable: true })
  addedBy: string | null;

  @Column({ name: 'added_at', type: 'datetime', precision: 3 })
  addedAt: Date;
}

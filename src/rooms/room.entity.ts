import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity('rooms')
export class RoomEntity {
  @PrimaryColumn({ name: 'room_id', type: 'varchar', length: 64 })
  roomId: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  name: string | null;

  /** 0: the server-wide ROOM_MAX_CLIENTS applies. */
  @Column({ name: 'max_clients', type: 'int', default: 0 })
  maxClients: number;

  /** Only devices on its member list (room_members) may join. */
  @Column({ name: 'is_private', type: 'boolean', default: false })
  isPrivate: boolean;

  @Column({ name: 'created_by', type: 'varchar', length: 128, nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', precision: 3 })
  createdAt: Date;

  @Index('idx_rooms_last_active')
  @Column({ name: 'last_active_at', type: 'datetime', precision: 3 })
  lastActiveAt: Date;
}

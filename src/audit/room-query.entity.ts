import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('room_queries')
@Index('idx_room_queries_room', ['roomId', 'queriedAt'])
export class RoomQueryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'room_id', type: 'varchar', length: 64 })
  roomId: string;

  @Column({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId: string;

  @Column({ name: 'total_clients', type: 'int' })
  totalClients: number;

  @Column({ name: 'queried_at', type: 'datetime', precision: 3 })
  queriedAt: Date;
}

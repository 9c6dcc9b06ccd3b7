import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('devices')
export class DeviceEntity {
  @PrimaryColumn({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId: string;

  @Column({ name: 'last_identity', type: 'varchar', length: 128 })
  lastIdentity: string;

  @Column({ name: 'last_room_id', type: 'varchar', length: 64, nullable: true })
  lastRoomId: string | null;

  @Column({ name: 'first_connected_at', type: 'datetime', precision: 3 })
  firstConnectedAt: Date;

  @Column({ name: 'last_connected_at', type: 'datetime', precision: 3 })
  lastConnectedAt: Date;
}

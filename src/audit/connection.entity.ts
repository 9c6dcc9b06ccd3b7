import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One row per WebSocket session: opened at the handshake, closed when the socket goes. */
@Entity('connections')
@Index('idx_connections_device', ['deviceId', 'connectedAt'])
@Index('idx_connections_room', ['roomId', 'connectedAt'])
export class ConnectionEntity {
  @PrimaryColumn({ name: 'session_id', type: 'varchar', length: 64 })
  sessionId: string;

  @Column({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId: string;

  @Column({ name: 'room_id', type: 'varchar', length: 64, nullable: true })
  roomId: string | null;

  @Column({ type: 'varchar', length: 128 })
  identity: string;

  @Column({ name: 'client_ip', type: 'varchar', length: 64 })
  clientIp: string;

  @Column({ name: 'node_id', type: 'varchar', length: 128 })
  nodeId: string;

  @Column({ name: 'connected_at', type: 'datetime', precision: 3 })
  connectedAt: Date;

  @Column({ name: 'disconnected_at', type: 'datetime', precision: 3, nullable: true })
  disconnectedAt: Date | null;

  @Column({ name: 'close_code', type: 'int', nullable: true })
  closeCode: number | null;
}

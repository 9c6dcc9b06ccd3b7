import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Remembered results of sends, by (device, client id), for the embedded idempotency store. */
@Entity('idempotency_keys')
export class IdempotencyKeyEntity {
  @PrimaryColumn({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId: string;

  @PrimaryColumn({ name: 'request_id', type: 'varchar', length: 64 })
  requestId: string;

  /** JSON of the ack data first returned. */
  @Column({ type: 'text' })
  result: string;

  @Index('idx_idempotency_expires')
  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt: Date;
}

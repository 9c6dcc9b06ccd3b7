import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** What an offline item is delivered as: the `type` of the event the device receives. */
export const OFFLINE_KINDS = ['message', 'system', 'mention'] as const;
export type OfflineKind = (typeof OFFLINE_KINDS)[number];

/**
 * One event kept for a device that was not connected (migration 1763900000000-Messaging).
 * Delivered at its next handshake, oldest first (by id), and removed once the client has it
 * or once it expires.
 */
@Entity('offline_items')
@Index('idx_offline_device', ['deviceId', 'id'])
@Index('idx_offline_expires', ['expiresAt'])
@Index('uq_offline_dedupe', ['deviceId', 'dedupeKey'], { unique: true })
export class OfflineItemEntity {
  /** bigint on MySQL: the driver returns it as a string. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId: string;

  @Column({ type: 'varchar', length: 16 })
  kind: OfflineKind;

  /** JSON text of the event's `data`. */
  @Column({ type: 'text' })
  payload: string;

  /** Unique per device: a retried store of the same item is one row. */
  @Column({ name: 'dedupe_key', type: 'varchar', length: 200 })
  dedupeKey: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt: Date;
}

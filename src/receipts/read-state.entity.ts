import { Column, Entity, PrimaryColumn } from 'typeorm';

const bigintToNumber = {
  to: (value: number | null) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/**
 * How far a device has read: one row per device and scope. Written only by the read-state
 * processor, which keeps the furthest marker (read state never moves back).
 */
@Entity('read_state')
export class ReadStateEntity {
  @PrimaryColumn({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId: string;

  /** `room:<room id>` or `peer:<device id>` (readScope()). */
  @PrimaryColumn({ type: 'varchar', length: 200 })
  scope: string;

  /** Room scopes: every message with a seq up to this one is read. */
  @Column({ name: 'up_to_seq', type: 'bigint', nullable: true, transformer: bigintToNumber })
  upToSeq: number | null;

  /** Peer scopes: every message of the conversation up to this id (UUIDv7, time-ordered) is read. */
  @Column({ name: 'up_to_message_id', type: 'varchar', length: 64, nullable: true })
  upToMessageId: string | null;

  /** When the marker last moved forward. */
  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt: Date;
}

import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('messages')
@Index('idx_messages_room_seq', ['roomId', 'seq'])
// On SQLite these two leave room messages out (WHERE … IS NOT NULL; migration PartialDirectIndexes).
@Index('idx_messages_conversation', ['conversation', 'sentAt'])
@Index('idx_messages_to', ['toDeviceId', 'fromDeviceId'])
@Index('idx_messages_sent_as', ['fromDeviceId', 'clientMsgId'])
export class MessageEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  /** Server-assigned id; unique so a retried write never stores a message twice. */
  @Index('uq_messages_message_id', { unique: true })
  @Column({ name: 'message_id', type: 'varchar', length: 64 })
  messageId: string;

  @Column({ name: 'room_id', type: 'varchar', length: 64, nullable: true })
  roomId: string | null;

  @Column({ name: 'to_device_id', type: 'varchar', length: 128, nullable: true })
  toDeviceId: string | null;

  @Column({ name: 'from_device_id', type: 'varchar', length: 128 })
  fromDeviceId: string;

  @Column({ name: 'from_identity', type: 'varchar', length: 128 })
  fromIdentity: string;

  @Column({ type: 'varchar', length: 16 })
  kind: string;

  /** JSON text of the content as the client sent it. */
  @Column({ type: 'text' })
  content: string;

  @Column({ type: 'text', nullable: true })
  mentions: string | null;

  @Column({ type: 'bigint', nullable: true })
  seq: number | null;

  @Column({ name: 'client_msg_id', type: 'varchar', length: 64, nullable: true })
  clientMsgId: string | null;

  @Column({ name: 'sent_at', type: 'datetime', precision: 3 })
  sentAt: Date;

  /** Direct messages: both device ids, sorted, joined by '|'. */
  @Column({ type: 'varchar', length: 260, nullable: true })
  conversation: string | null;

  @Column({ name: 'recalled_at', type: 'datetime', precision: 3, nullable: true })
  recalledAt: Date | null;

  @Column({ name: 'recalled_by', type: 'varchar', length: 128, nullable: true })
  recalledBy: string | null;
}

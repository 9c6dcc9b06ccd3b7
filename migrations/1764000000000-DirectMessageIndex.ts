import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';

/** Finds the senders of a device's direct messages (unread counts) without scanning `messages`. */
export class DirectMessageIndex1764000000000 implements MigrationInterface {
  name = 'DirectMessageIndex1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex(
      'messages',
      new TableIndex({ name: 'idx_messages_to', columnNames: ['to_device_id', 'from_device_id'] }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('messages', 'idx_messages_to');
  }
}

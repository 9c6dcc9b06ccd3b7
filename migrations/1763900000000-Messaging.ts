import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

const datetime = (name: string, nullable = false) => ({
  name,
  type: 'datetime',
  precision: 3,
  isNullable: nullable,
});
const varchar = (name: string, length: number, nullable = false) => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});

/** Direct conversations, recall, the offline inbox and read state. Runs on MySQL and SQLite. */
export class Messaging1763900000000 implements MigrationInterface {
  name = 'Messaging1763900000000';

  async up(q: QueryRunner): Promise<void> {
    const mysql = q.connection.options.type === 'mysql';
    await q.addColumns('messages', [
      // Both device ids of a direct message, sorted and joined: one index serves the conversation either way.
      new TableColumn(varchar('conversation', 260, true)),
      new TableColumn(datetime('recalled_at', true)),
      new TableColumn(varchar('recalled_by', 128, true)),
    ]);
    await q.createIndex(
      'messages',
      new TableIndex({ name: 'idx_messages_conversation', columnNames: ['conversation', 'sent_at'] }),
    );

    await q.createTable(
      new Table({
        name: 'offline_items',
        columns: [
          {
            name: 'id',
            type: mysql ? 'bigint' : 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          varchar('device_id', 128),
          // message | system | mention: the event type the item is delivered as.
          varchar('kind', 16),
          { name: 'payload', type: mysql ? 'mediumtext' : 'text' },
          // Makes storing idempotent (a retried store of the same item is one row).
          varchar('dedupe_key', 200),
          datetime('created_at'),
          datetime('expires_at'),
        ],
        indices: [
          new TableIndex({ name: 'idx_offline_device', columnNames: ['device_id', 'id'] }),
          new TableIndex({ name: 'idx_offline_expires', columnNames: ['expires_at'] }),
          new TableIndex({
            name: 'uq_offline_dedupe',
            columnNames: ['device_id', 'dedupe_key'],
            isUnique: true,
          }),
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'read_state',
        columns: [
          { ...varchar('device_id', 128), isPrimary: true },
          // `room:<id>` or `peer:<device id>`
          { ...varchar('scope', 200), isPrimary: true },
          { name: 'up_to_seq', type: 'bigint', isNullable: true },
          varchar('up_to_message_id', 64, true),
          datetime('updated_at'),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('read_state');
    await q.dropTable('offline_items');
    await q.dropIndex('messages', 'idx_messages_conversation');
    await q.dropColumns('messages', ['conversation', 'recalled_at', 'recalled_by']);
  }
}

import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * Without Redis, a send is remembered by its message row (sender, client id), found through
 * a new index, instead of a row of its own in `idempotency_keys`: one write less per send, and
 * no window between the message's write and its record. The message rows already hold every
 * record the table had. The new index takes the place of (sender, sent_at), which no query
 * used: an index costs every insert, the hottest write there is.
 */
export class SendRecords1764200000000 implements MigrationInterface {
  name = 'SendRecords1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.dropIndex('messages', 'idx_messages_from');
    await q.createIndex(
      'messages',
      new TableIndex({ name: 'idx_messages_sent_as', columnNames: ['from_device_id', 'client_msg_id'] }),
    );
    await q.dropTable('idempotency_keys');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'idempotency_keys',
        columns: [
          { name: 'device_id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'request_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'result', type: 'text' },
          { name: 'expires_at', type: 'datetime', precision: 3 },
        ],
        indices: [new TableIndex({ name: 'idx_idempotency_expires', columnNames: ['expires_at'] })],
      }),
    );
    await q.dropIndex('messages', 'idx_messages_sent_as');
    await q.createIndex(
      'messages',
      new TableIndex({ name: 'idx_messages_from', columnNames: ['from_device_id', 'sent_at'] }),
    );
  }
}

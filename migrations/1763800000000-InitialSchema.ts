import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

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

/**
 * The room-manager schema. Written with TypeORM's Table API, not raw SQL, so the same
 * migration runs on MySQL/MariaDB and SQLite.
 */
export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    const mysql = q.connection.options.type === 'mysql';
    // SQLite wants INTEGER for an auto-increment key; MySQL TEXT stops at 64 KiB.
    const serial = {
      name: 'id',
      type: mysql ? 'bigint' : 'integer',
      isPrimary: true,
      isGenerated: true,
      generationStrategy: 'increment' as const,
    };
    await q.createTable(
      new Table({
        name: 'rooms',
        columns: [
          { ...varchar('room_id', 64), isPrimary: true },
          varchar('name', 200, true),
          { name: 'max_clients', type: 'int', default: 0 },
          varchar('created_by', 128, true),
          datetime('created_at'),
          datetime('last_active_at'),
        ],
        indices: [new TableIndex({ name: 'idx_rooms_last_active', columnNames: ['last_active_at'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'devices',
        columns: [
          { ...varchar('device_id', 128), isPrimary: true },
          varchar('last_identity', 128),
          varchar('last_room_id', 64, true),
          datetime('first_connected_at'),
          datetime('last_connected_at'),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'connections',
        columns: [
          { ...varchar('session_id', 64), isPrimary: true },
          varchar('device_id', 128),
          varchar('room_id', 64, true),
          varchar('identity', 128),
          varchar('client_ip', 64),
          varchar('node_id', 128),
          datetime('connected_at'),
          datetime('disconnected_at', true),
          { name: 'close_code', type: 'int', isNullable: true },
        ],
        indices: [
          new TableIndex({ name: 'idx_connections_device', columnNames: ['device_id', 'connected_at'] }),
          new TableIndex({ name: 'idx_connections_room', columnNames: ['room_id', 'connected_at'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'messages',
        columns: [
          serial,
          varchar('message_id', 64),
          varchar('room_id', 64, true),
          varchar('to_device_id', 128, true),
          varchar('from_device_id', 128),
          varchar('from_identity', 128),
          varchar('kind', 16),
          { name: 'content', type: mysql ? 'mediumtext' : 'text' },
          { name: 'mentions', type: 'text', isNullable: true },
          { name: 'seq', type: 'bigint', isNullable: true },
          varchar('client_msg_id', 64, true),
          datetime('sent_at'),
        ],
        indices: [
          new TableIndex({ name: 'uq_messages_message_id', columnNames: ['message_id'], isUnique: true }),
          new TableIndex({ name: 'idx_messages_room_seq', columnNames: ['room_id', 'seq'] }),
          new TableIndex({ name: 'idx_messages_from', columnNames: ['from_device_id', 'sent_at'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'room_queries',
        columns: [
          serial,
          varchar('room_id', 64),
          varchar('device_id', 128),
          { name: 'total_clients', type: 'int' },
          datetime('queried_at'),
        ],
        indices: [new TableIndex({ name: 'idx_room_queries_room', columnNames: ['room_id', 'queried_at'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'idempotency_keys',
        columns: [
          { ...varchar('device_id', 128), isPrimary: true },
          { ...varchar('request_id', 64), isPrimary: true },
          { name: 'result', type: 'text' },
          datetime('expires_at'),
        ],
        indices: [new TableIndex({ name: 'idx_idempotency_expires', columnNames: ['expires_at'] })],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['idempotency_keys', 'room_queries', 'messages', 'connections', 'devices', 'rooms']) {
      await q.dropTable(table);
    }
  }
}

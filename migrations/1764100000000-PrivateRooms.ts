import { type MigrationInterface, type QueryRunner, Table, TableColumn } from 'typeorm';

/** Private rooms: a flag on the room and the list of devices allowed in. Runs on MySQL and SQLite. */
export class PrivateRooms1764100000000 implements MigrationInterface {
  name = 'PrivateRooms1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn(
      'rooms',
      new TableColumn({ name: 'is_private', type: 'boolean', isNullable: false, default: false }),
    );
    await q.createTable(
      new Table({
        name: 'room_members',
        columns: [
          { name: 'room_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'device_id', type: 'varchar', length: '128', isPrimary: true },
          // A device id, or "admin" for the admin API.
          { name: 'added_by', type: 'varchar', length: '128', isNullable: true },
          { name: 'added_at', type: 'datetime', precision: 3 },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('room_members');
    await q.dropColumn('rooms', 'is_private');
  }
}

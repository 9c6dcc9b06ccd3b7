import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../migrations/index.js';
import { databaseOptions } from '../src/persistence/database-options.js';
import { type TestEnvironment, testEnvironment } from './support/app.js';
import { MODES } from './support/services.js';

/** The direct-message indexes as the database describes them. */
async function directIndexes(db: DataSource): Promise<Record<string, string>> {
  if (db.options.type === 'mysql') {
    const rows = (await db.query(
      `SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols
         FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'messages'
          AND INDEX_NAME IN ('idx_messages_conversation', 'idx_messages_to')
        GROUP BY INDEX_NAME`,
    )) as Array<{ name: string; cols: string }>;
    return Object.fromEntries(rows.map((r) => [r.name, r.cols]));
  }
  const rows = (await db.query(
    `SELECT name, sql FROM sqlite_master
      WHERE tbl_name = 'messages' AND name IN ('idx_messages_conversation', 'idx_messages_to')`,
  )) as Array<{ name: string; sql: string }>;
  return Object.fromEntries(rows.map((r) => [r.name, r.sql.replace(/\s+/g, ' ').trim()]));
}

describe.each(MODES)('migrations (%s)', (mode) => {
  let env: TestEnvironment;
  let db: DataSource;
  beforeAll(async () => {
    env = await testEnvironment(mode);
    db = new DataSource(databaseOptions(env.env.DATABASE_URL, false));
    await db.initialize();
  });
  afterAll(async () => {
    await db?.destroy();
    await env?.dispose();
  });

  it('run in order, revert one by one to an empty schema, and run again', async () => {
    expect((await db.runMigrations()).map((m) => m.name)).toEqual(MIGRATIONS.map((m) => new m().name));
    for (let i = 0; i < MIGRATIONS.length; i++) await db.undoLastMigration();
    expect(Number(((await db.query(`SELECT COUNT(*) AS n FROM migrations`)) as [{ n: number }])[0].n)).toBe(
      0,
    );
    expect(await db.createQueryRunner().hasTable('messages')).toBe(false);
    expect(await db.runMigrations()).toHaveLength(MIGRATIONS.length);
  });

  it.runIf(mode === 'embedded')(
    'SQLite: the direct-message indexes leave room messages out, and direct queries still use them',
    async () => {
      expect(await directIndexes(db)).toEqual({
        idx_messages_conversation:
          'CREATE INDEX "idx_messages_conversation" ON "messages" ("conversation", "sent_at") WHERE "conversation" IS NOT NULL',
        idx_messages_to:
          'CREATE INDEX "idx_messages_to" ON "messages" ("to_device_id", "from_device_id") WHERE "to_device_id" IS NOT NULL',
      });
      const plan = async (sql: string) =>
        ((await db.query(`EXPLAIN QUERY PLAN ${sql}`, ['a'])) as Array<{ detail: string }>)
          .map((r) => r.detail)
          .join('; ');
      expect(await plan(`SELECT DISTINCT from_device_id FROM messages WHERE to_device_id = ?`)).toMatch(
        /USING COVERING INDEX idx_messages_to/,
      );
      expect(await plan(`SELECT * FROM messages WHERE conversation = ? ORDER BY message_id DESC`)).toMatch(
        /USING INDEX idx_messages_conversation/,
      );
      await db.undoLastMigration();
      expect(Object.values(await directIndexes(db)).join()).not.toContain('WHERE');
      await db.runMigrations();
    },
  );

  it.runIf(mode === 'mysql+redis')('MySQL: the direct-message indexes stay whole', async () => {
    expect(await directIndexes(db)).toEqual({
      idx_messages_conversation: 'conversation,sent_at',
      idx_messages_to: 'to_device_id,from_device_id',
    });
  });
});

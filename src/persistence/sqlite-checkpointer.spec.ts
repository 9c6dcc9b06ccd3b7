import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import {
  BACKSTOP_AUTOCHECKPOINT_PAGES,
  SQLITE_AUTOCHECKPOINT_PAGES,
  SqliteCheckpointer,
} from './sqlite-checkpointer.js';

const POLL = { timeout: 5000, interval: 20 };

describe('SqliteCheckpointer', () => {
  let dir: string;
  let file: string;
  let db: DataSource;
  let registry: Registry;
  let checkpointer: SqliteCheckpointer | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roomcast-checkpoint-'));
    file = join(dir, 'db.sqlite');
    db = new DataSource({
      type: 'better-sqlite3',
      database: file,
      prepareDatabase: (conn: { pragma(s: string): unknown }) => void conn.pragma('journal_mode = WAL'),
    });
    await db.initialize();
    await db.query('CREATE TABLE t (v BLOB NOT NULL)');
    registry = new Registry();
  });

  afterEach(async () => {
    await checkpointer?.onModuleDestroy();
    checkpointer = undefined;
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  const start = async (intervalMs: number) => {
    checkpointer = new SqliteCheckpointer(
      loadConfig({ SQLITE_CHECKPOINT_MS: String(intervalMs), DATABASE_URL: `sqlite:${file}` }),
      db,
      registry,
    );
    await checkpointer.onApplicationBootstrap();
  };
  /** 50 commits of about 8 pages each: some 400 pages in the WAL, below SQLite's own threshold. */
  const write = async () => {
    for (let i = 0; i < 50; i++) await db.query('INSERT INTO t (v) VALUES (randomblob(30000))');
  };
  const autocheckpoint = async () =>
    ((await db.query('PRAGMA wal_autocheckpoint')) as Array<{ wal_autocheckpoint: number }>)[0]
      .wal_autocheckpoint;
  const walPages = async () => (await registry.getSingleMetricAsString('roomcast_sqlite_wal_pages')).trim();

  it('copies the WAL into the database file from its thread, and the writer only checkpoints as a backstop', async () => {
    await start(20);
    expect(await autocheckpoint()).toBe(BACKSTOP_AUTOCHECKPOINT_PAGES);
    const before = statSync(file).size;
    // A reader on an older snapshot, on a connection of its own: no checkpoint may copy the
    // pages written after it began, so the gauge must show them.
    const reader = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
    await reader.query('BEGIN');
    await reader.query('SELECT COUNT(*) FROM t');
    try {
      await write();
      await expect.poll(walPages, POLL).toMatch(/^roomcast_sqlite_wal_pages [1-9]\d*$/m);
      expect(statSync(file).size).toBe(before);
    } finally {
      await reader.query('COMMIT');
      await reader.destroy();
    }
    // SQLite alone would leave these pages in the WAL (fewer than 1,000): the file grows only by a checkpoint.
    await expect.poll(() => statSync(file).size, POLL).toBeGreaterThan(before + 1_000_000);
    await expect.poll(walPages, POLL).toMatch(/^roomcast_sqlite_wal_pages 0$/m);
  });

  it('with SQLITE_CHECKPOINT_MS=0 starts no thread and leaves SQLite its own checkpoints', async () => {
    await start(0);
    expect(await autocheckpoint()).toBe(SQLITE_AUTOCHECKPOINT_PAGES);
    const before = statSync(file).size;
    await write();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(statSync(file).size).toBe(before);
  });

  it('hands checkpoints back to the writer when its thread fails', async () => {
    const error = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    // The thread opens the database by name and must find it: without it, the thread fails at start.
    unlinkSync(file);
    await start(20);
    await expect.poll(autocheckpoint, POLL).toBe(SQLITE_AUTOCHECKPOINT_PAGES);
    expect(error).toHaveBeenCalledWith(
      expect.stringMatching(/checkpoint thread failed: .*the writer checkpoints/),
    );
  });
});

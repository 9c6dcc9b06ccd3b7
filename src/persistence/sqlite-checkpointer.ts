import { createRequire } from 'node:module';
import { type MessagePort, Worker } from 'node:worker_threads';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { sqlDialect } from './database-options.js';

/** SQLite's own default: a commit that leaves this many pages in the WAL checkpoints them itself. */
export const SQLITE_AUTOCHECKPOINT_PAGES = 1000;
/**
 * While the background thread runs, the writer checkpoints only past this many pages: a
 * backstop for a WAL that never empties (writes never pause long enough for a pass to catch
 * up), not the normal way.
 */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 10_000;

interface CheckpointThreadData {
  file: string;
  intervalMs: number;
  sqliteModule: string;
}

/** A row of `PRAGMA wal_checkpoint`: pages in the WAL (`log`), of them copied into the database (`checkpointed`). */
interface WalCheckpoint {
  busy: number;
  log: number;
  checkpointed: number;
}

type Report = WalCheckpoint | { error: string };

interface SqliteConnection {
  pragma(source: string): unknown;
  close(): void;
}

/**
 * The checkpoint thread, run from source text (`eval`) so that it is the same code from
 * src (tests, bench) and from dist, with no file of its own to ship. Self-contained: it sees
 * only what it requires, by the paths in workerData.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the thread is CommonJS source text */
function checkpointThread(): void {
  const threads = require('node:worker_threads') as {
    workerData: CheckpointThreadData;
    parentPort: MessagePort;
  };
  const { file, intervalMs, sqliteModule } = threads.workerData;
  const Database = require(sqliteModule) as new (file: string, options: object) => SqliteConnection;
  const port = threads.parentPort;
  const db = new Database(file, { fileMustExist: true });
  const timer = setInterval(() => {
    try {
      port.postMessage((db.pragma('wal_checkpoint(PASSIVE)') as WalCheckpoint[])[0]);
    } catch (err) {
      port.postMessage({ error: String(err) });
    }
  }, intervalMs);
  port.once('message', () => {
    clearInterval(timer);
    db.close();
    port.close();
  });
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Embedded mode: copies the SQLite WAL into the database file from a thread of its own.
 *
 * Left to itself, SQLite checkpoints inside the commit that fills the WAL past 1,000 pages,
 * and a checkpoint syncs the database file: the event loop stood still for that fsync, tens
 * of milliseconds every few hundred message batches, and every socket waited with it. A
 * PASSIVE checkpoint on another connection runs beside the writer without locking it out,
 * and the WAL still starts over once a pass has caught up (docs/operations.md, "SQLite checkpoints").
 */
@Injectable()
export class SqliteCheckpointer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SqliteCheckpointer.name);
  private readonly walPages: Gauge;
  /** The running thread; unset once it is stopped or has failed. */
  private worker?: Worker;

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    registry: Registry,
  ) {
    this.walPages = new Gauge({
      name: 'roomcast_sqlite_wal_pages',
      help: 'Embedded mode: pages in the SQLite WAL not yet copied into the database file, after the last background checkpoint.',
      registers: [registry],
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const file = this.dataSource.options.database;
    if (this.config.SQLITE_CHECKPOINT_MS === 0 || sqlDialect(this.dataSource) !== 'sqlite') return;
    if (typeof file !== 'string' || file === ':memory:') return;
    await this.autocheckpoint(BACKSTOP_AUTOCHECKPOINT_PAGES);
    const data: CheckpointThreadData = {
      file,
      intervalMs: this.config.SQLITE_CHECKPOINT_MS,
      sqliteModule: createRequire(import.meta.url).resolve('better-sqlite3'),
    };
    const worker = new Worker(`(${checkpointThread.toString()})()`, { eval: true, workerData: data });
    worker.unref();
    worker.on('message', (report: Report) => {
      if ('error' in report) this.logger.warn(`checkpoint failed: ${report.error}`);
      else this.walPages.set(report.log - report.checkpointed);
    });
    worker.on('error', (err) => void this.fallBack(worker, `checkpoint thread failed: ${err.message}`));
    worker.on('exit', (code) => void this.fallBack(worker, `checkpoint thread exited (${code})`));
    this.worker = worker;
  }

  /** Before the database closes: the writer's last commits checkpoint themselves (backstop, then close). */
  async onModuleDestroy(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('stop');
    await exited;
  }

  /**
   * Without the thread, SQLite checkpoints inside commits again, as it does by default. Only
   * for the running thread: not for one stopped at shutdown, nor twice (an error, then its exit).
   */
  private async fallBack(worker: Worker, reason: string): Promise<void> {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.logger.error(`${reason}; the writer checkpoints the WAL itself from now on`);
    await this.autocheckpoint(SQLITE_AUTOCHECKPOINT_PAGES).catch((err: Error) =>
      this.logger.error(`could not restore wal_autocheckpoint: ${err.message}`),
    );
  }

  private async autocheckpoint(pages: number): Promise<void> {
    await this.dataSource.query(`PRAGMA wal_autocheckpoint = ${pages}`);
  }
}

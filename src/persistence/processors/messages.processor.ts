import { Injectable } from '@nestjs/common';
import { Histogram, Registry } from 'prom-client';
import { DataSource, IsNull } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { AppConfig } from '../../config/app-config.js';
import { MessageEntity } from '../../messaging/message.entity.js';
import { BatchWriter } from '../batch-writer.js';
import { sqlDialect } from '../database-options.js';
import { JobHandler } from '../job-handler.decorator.js';
import { JobName, type MessageRecalledJob, type PersistMessageJob } from '../job-registry.js';

/**
 * Bounds of one INSERT statement. SQLite accepts at most 32766 bound values (12 per row
 * here) and MySQL/MariaDB refuse a statement above max_allowed_packet (16 MiB by default
 * on MariaDB), which a full batch of 64 KiB messages would exceed.
 */
const MAX_ROWS_PER_INSERT = 1000;
const MAX_CONTENT_BYTES_PER_INSERT = 4 * 1024 * 1024;

type MessageRow = Omit<MessageEntity, 'id'>;

/** What makes an INSERT of a message already stored a no-op, per dialect. */
const IF_STORED = {
  mysql: 'ON DUPLICATE KEY UPDATE message_id = message_id',
  sqlite: 'ON CONFLICT (message_id) DO NOTHING',
};

const toRow = (job: PersistMessageJob): MessageRow => ({
  messageId: job.messageId,
  roomId: job.roomId,
  toDeviceId: job.toDeviceId,
  fromDeviceId: job.fromDeviceId,
  fromIdentity: job.fromIdentity,
  kind: job.kind,
  content: job.content,
  mentions: job.mentions ? JSON.stringify(job.mentions) : null,
  seq: job.seq,
  clientMsgId: job.clientMsgId,
  sentAt: new Date(job.sentAt),
  conversation: job.conversation,
  recalledAt: null,
  recalledBy: null,
});

/** Splits rows into INSERT-sized chunks (in practice one chunk: a batch is rarely that large). */
export function insertChunks(rows: MessageRow[]): MessageRow[][] {
  const chunks: MessageRow[][] = [];
  let chunk: MessageRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(row.content) + (row.mentions?.length ?? 0);
    if (
      chunk.length > 0 &&
      (chunk.length >= MAX_ROWS_PER_INSERT || bytes + size > MAX_CONTENT_BYTES_PER_INSERT)
    ) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(row);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * Stores messages. Jobs that arrive together (up to MESSAGE_BATCH_SIZE, or within
 * MESSAGE_BATCH_WAIT_MS) share one multi-row INSERT, which the database applies atomically
 * as a statement of its own. It skips rows whose message_id is already stored, so a
 * retried job, or a message enqueued twice, is stored once. Duplicates only: MySQL's
 * INSERT IGNORE would also downgrade real errors (a NULL, an over-long value) to warnings
 * and store a defaulted or truncated row, where this job should fail visibly.
 *
 * The INSERT is written here rather than by TypeORM's query builder, which took more CPU to
 * build a 500-row statement (a parameter look-up per value) than mysql2 took to send it; the
 * columns and each value's conversion (dates) still come from the entity's metadata.
 *
 * No explicit transaction: with better-sqlite3 TypeORM runs every query on one shared
 * connection, so a BEGIN here would also enclose (and could roll back) other modules'
 * writes interleaved with it. The rare batch split into several statements still needs
 * none: a job resolves only once all of them committed, and its retry skips what is there.
 */
@Injectable()
export class MessagesProcessor {
  private readonly writer: BatchWriter<PersistMessageJob>;
  private readonly insertRows: Histogram;
  private readonly columns: ColumnMetadata[];
  /** `INSERT INTO messages (…) VALUES `, and one row's `(?, …, ?)`. */
  private readonly insertInto: string;
  private readonly rowPlaceholders: string;
  private readonly ifStored: string;

  constructor(
    config: AppConfig,
    private readonly dataSource: DataSource,
    registry: Registry,
  ) {
    this.insertRows = new Histogram({
      name: 'roomcast_message_insert_rows',
      help: 'Rows per INSERT committed by the message writer (its _count is the number of INSERT statements).',
      buckets: [1, 10, 50, 100, 250, 500, 1000],
      registers: [registry],
    });
    const metadata = dataSource.getMetadata(MessageEntity);
    const escape = (name: string) => dataSource.driver.escape(name);
    this.columns = metadata.columns.filter((column) => !column.isGenerated);
    this.insertInto = `INSERT INTO ${escape(metadata.tableName)} (${this.columns.map((c) => escape(c.databaseName)).join(', ')}) VALUES `;
    this.rowPlaceholders = `(${this.columns.map(() => '?').join(', ')})`;
    this.ifStored = IF_STORED[sqlDialect(dataSource)];
    // A value, not a provider: its size and wait are this processor's own configuration.
    this.writer = new BatchWriter({
      maxSize: config.MESSAGE_BATCH_SIZE,
      maxWaitMs: config.messageBatchWaitMs,
      write: (jobs) => this.insert(jobs),
    });
  }

  @JobHandler(JobName.PersistMessage)
  persist(job: PersistMessageJob): Promise<void> {
    return this.writer.add(job);
  }

  /**
   * Marks a message recalled. The recall may overtake the message's own write (another
   * worker, a retry): then the row is not there yet and the job throws, to be retried.
   */
  @JobHandler(JobName.MessageRecalled)
  async recall(job: MessageRecalledJob): Promise<void> {
    const messages = this.dataSource.getRepository(MessageEntity);
    const result = await messages.update(
      { messageId: job.messageId, recalledAt: IsNull() },
      { recalledAt: new Date(job.at), recalledBy: job.by },
    );
    if (!result.affected && !(await messages.existsBy({ messageId: job.messageId }))) {
      throw new Error(`message ${job.messageId} is not stored yet`);
    }
  }

  private async insert(jobs: PersistMessageJob[]): Promise<void> {
    const driver = this.dataSource.driver;
    for (const rows of insertChunks(jobs.map(toRow))) {
      const parameters: unknown[] = [];
      for (const row of rows)
        for (const column of this.columns)
          parameters.push(driver.preparePersistentValue(column.getEntityValue(row), column));
      const values = new Array<string>(rows.length).fill(this.rowPlaceholders).join(', ');
      await this.dataSource.query(`${this.insertInto}${values} ${this.ifStored}`, parameters);
      this.insertRows.observe(rows.length);
    }
  }
}

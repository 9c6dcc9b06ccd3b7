import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ReadStateEntity } from '../../receipts/read-state.entity.js';
import { sqlDialect } from '../database-options.js';
import { JobHandler } from '../job-handler.decorator.js';
import { JobName, type ReadStateJob } from '../job-registry.js';

/**
 * The upsert clause of read_state, per dialect: each marker column keeps the further value
 * (seq by number, message id by its UUIDv7 order; a NULL never replaces a value), so jobs of
 * one marker converge to the furthest whatever order they commit in, and a retry is harmless.
 */
const READ_STATE_UPSERT = {
  mysql: `ON DUPLICATE KEY UPDATE
    updated_at = GREATEST(updated_at, VALUES(updated_at)),
    up_to_seq = CASE
      WHEN VALUES(up_to_seq) IS NULL THEN up_to_seq
      WHEN up_to_seq IS NULL THEN VALUES(up_to_seq)
      ELSE GREATEST(up_to_seq, VALUES(up_to_seq)) END,
    up_to_message_id = CASE
      WHEN VALUES(up_to_message_id) IS NULL THEN up_to_message_id
      WHEN up_to_message_id IS NULL THEN VALUES(up_to_message_id)
      ELSE GREATEST(up_to_message_id, VALUES(up_to_message_id)) END`,
  sqlite: `ON CONFLICT (device_id, scope) DO UPDATE SET
    updated_at = MAX(updated_at, excluded.updated_at),
    up_to_seq = CASE
      WHEN excluded.up_to_seq IS NULL THEN up_to_seq
      WHEN up_to_seq IS NULL THEN excluded.up_to_seq
      ELSE MAX(up_to_seq, excluded.up_to_seq) END,
    up_to_message_id = CASE
      WHEN excluded.up_to_message_id IS NULL THEN up_to_message_id
      WHEN up_to_message_id IS NULL THEN excluded.up_to_message_id
      ELSE MAX(up_to_message_id, excluded.up_to_message_id) END`,
};

/** Stores read markers (ReceiptsService hands them over with JobQueue.record). */
@Injectable()
export class ReadStateProcessor {
  constructor(private readonly dataSource: DataSource) {}

  @JobHandler(JobName.ReadStateUpdated)
  async readStateUpdated(job: ReadStateJob): Promise<void> {
    const row: ReadStateEntity = {
      deviceId: job.deviceId,
      scope: job.scope,
      upToSeq: job.upToSeq,
      upToMessageId: job.upToMessageId,
      updatedAt: new Date(job.at),
    };
    // The builder renders the INSERT with each driver's own value conversion (dates).
    const [sql, parameters] = this.dataSource
      .createQueryBuilder()
      .insert()
      .into(ReadStateEntity)
      .values(row)
      .updateEntity(false)
      .getQueryAndParameters();
    await this.dataSource.query(`${sql} ${READ_STATE_UPSERT[sqlDialect(this.dataSource)]}`, parameters);
  }
}

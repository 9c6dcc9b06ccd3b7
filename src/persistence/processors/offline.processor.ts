import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config.js';
import { OfflineItemEntity } from '../../offline/offline-item.entity.js';
import { JobHandler } from '../job-handler.decorator.js';
import { JobQueue } from '../job-queue.js';
import { JobName, type OfflineDeliveredJob } from '../job-registry.js';

/** Expired items removed per statement, and statements per run (the next run takes the rest). */
const EXPIRE_BATCH = 1000;
const EXPIRE_MAX_BATCHES = 100;

/**
 * Upkeep of the offline inbox (OfflineService): removes the items a client has acknowledged,
 * and, on a schedule registered at boot by every process that runs workers, the items past
 * their expiry. Both are idempotent: a retried or repeated run deletes what is still there.
 */
@Injectable()
export class OfflineProcessor implements OnApplicationBootstrap {
  private readonly expired: Counter;

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly jobs: JobQueue,
    registry: Registry,
  ) {
    this.expired = new Counter({
      name: 'roomcast_offline_expired_total',
      help: 'Offline items removed undelivered because they were older than OFFLINE_TTL_MS.',
      registers: [registry],
    });
  }

  onApplicationBootstrap(): void {
    this.jobs.schedule(JobName.OfflineExpire, this.config.OFFLINE_EXPIRY_INTERVAL_MS, {});
  }

  @JobHandler(JobName.OfflineDelivered)
  async delivered(job: OfflineDeliveredJob): Promise<void> {
    await this.dataSource
      .createQueryBuilder()
      .delete()
      .from(OfflineItemEntity)
      .where('device_id = :deviceId', { deviceId: job.deviceId })
      .andWhere('id <= :upToId', { upToId: job.upToId })
      .execute();
  }

  /**
   * Deletes by id, a bounded batch at a time (SQLite has no DELETE ... LIMIT), re-checking
   * the expiry in the statement. Each row is deleted by one statement only, so the counter
   * is exact even when two runs overlap.
   */
  @JobHandler(JobName.OfflineExpire)
  async expire(): Promise<void> {
    const now = new Date();
    for (let batch = 0; batch < EXPIRE_MAX_BATCHES; batch++) {
      const rows: Array<{ id: string | number }> = await this.dataSource
        .createQueryBuilder()
        .select('o.id', 'id')
        .from(OfflineItemEntity, 'o')
        .where('o.expires_at <= :now', { now })
        .limit(EXPIRE_BATCH)
        .getRawMany();
      if (rows.length === 0) return;
      const result = await this.dataSource
        .createQueryBuilder()
        .delete()
        .from(OfflineItemEntity)
        .where('id IN (:...ids)', { ids: rows.map((r) => r.id) })
        .andWhere('expires_at <= :now', { now })
        .execute();
      this.expired.inc(result.affected ?? 0);
      if (rows.length < EXPIRE_BATCH) return;
    }
  }
}

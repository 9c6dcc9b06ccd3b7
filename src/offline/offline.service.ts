import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { JobQueue } from '../persistence/job-queue.js';
import { JobName } from '../persistence/job-registry.js';
import { type OfflineKind, OfflineItemEntity } from './offline-item.entity.js';

export type { OfflineKind } from './offline-item.entity.js';

/** An event to keep for a device that is not connected. */
export interface OfflineItemInput {
  deviceId: string;
  /** The event type it is delivered as. */
  kind: OfflineKind;
  /** The event's `data`, as the device would have received it live. */
  payload: object;
  /**
   * Unique per device (at most 200 characters): storing an item whose key the device
   * already has pending is a no-op, so a retried store is one row.
   */
  dedupeKey: string;
}

/** A pending item, to be sent as `{"type": kind, "data": payload}`. */
export interface PendingOfflineItem {
  /** Increases with every item stored: page with `afterId`, acknowledge with `upToId`. */
  id: number;
  kind: OfflineKind;
  payload: object;
}

/**
 * Bounds of one INSERT: SQLite accepts at most 32766 bound values (6 per row here) and
 * MySQL refuses a statement above max_allowed_packet.
 */
const MAX_ROWS_PER_INSERT = 500;
const MAX_PAYLOAD_BYTES_PER_INSERT = 4 * 1024 * 1024;
const MAX_DEDUPE_KEY = 200;
const MAX_DEVICE_ID = 128;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

type Row = Omit<OfflineItemEntity, 'id'>;

function chunks(rows: Row[]): Row[][] {
  const out: Row[][] = [];
  let chunk: Row[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(row.payload);
    if (
      chunk.length > 0 &&
      (chunk.length >= MAX_ROWS_PER_INSERT || bytes + size > MAX_PAYLOAD_BYTES_PER_INSERT)
    ) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(row);
    bytes += size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

/**
 * The durable inbox of a device: direct messages, `system` notifications and mentions that
 * arrived while it was not connected. Delivered at its next handshake (oldest first) and
 * removed when the client has them (`acknowledge`, through the queue) or when they expire
 * (OFFLINE_TTL_MS; the `offline.expire` job, see OfflineProcessor).
 *
 * Writes are made durable before they resolve: `store` is a direct INSERT, never a queued
 * job, because its callers (a direct message's ack, an invitation's ack) promise the item
 * is kept.
 */
@Injectable()
export class OfflineService {
  constructor(
    @InjectRepository(OfflineItemEntity) private readonly items: Repository<OfflineItemEntity>,
    private readonly jobs: JobQueue,
    private readonly config: AppConfig,
  ) {}

  /**
   * Keeps the items; durable when it resolves. One multi-row INSERT (several for a very
   * large call, each atomic on its own; a retry of the whole call is safe). Idempotent on
   * (device, dedupeKey) while the first item is pending: a duplicate changes nothing, not
   * even its expiry. Rejects with UNAVAILABLE when the database refuses; then some chunks of
   * a very large call may be stored, and storing again completes it without duplicates.
   * No explicit transaction: with SQLite TypeORM shares one connection between every
   * module, so a BEGIN here would enclose other modules' writes too.
   */
  async store(items: OfflineItemInput[]): Promise<void> {
    if (items.length === 0) return;
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.config.OFFLINE_TTL_MS);
    const rows = items.map((item): Row => {
      if (item.dedupeKey.length === 0 || item.dedupeKey.length > MAX_DEDUPE_KEY)
        throw new TypeError(`offline dedupeKey must be 1-${MAX_DEDUPE_KEY} characters: "${item.dedupeKey}"`);
      if (item.deviceId.length === 0 || item.deviceId.length > MAX_DEVICE_ID)
        throw new TypeError(`offline deviceId must be 1-${MAX_DEVICE_ID} characters`);
      return {
        deviceId: item.deviceId,
        kind: item.kind,
        payload: JSON.stringify(item.payload),
        dedupeKey: item.dedupeKey,
        createdAt: now,
        expiresAt,
      };
    });
    try {
      for (const chunk of chunks(rows)) {
        await this.items
          .createQueryBuilder()
          .insert()
          .into(OfflineItemEntity)
          .values(chunk)
          // A no-op update, not INSERT IGNORE: MySQL's IGNORE would also turn real errors
          // (an over-long value, a NULL) into warnings and store a damaged row.
          .orUpdate(['dedupe_key'], ['device_id', 'dedupe_key'])
          .updateEntity(false)
          .execute();
      }
    } catch (err) {
      throw RoomcastError.unavailable(`offline items not stored: ${message(err)}`);
    }
  }

  /**
   * The device's items with an id above `afterId` that have not expired, oldest first, at
   * most `limit`. Expired items are never returned, even before the expiry job removed them.
   */
  async pending(deviceId: string, afterId: number, limit: number): Promise<PendingOfflineItem[]> {
    if (limit <= 0) return [];
    let rows: Array<Pick<OfflineItemEntity, 'id' | 'kind' | 'payload'>>;
    try {
      rows = await this.items
        .createQueryBuilder('o')
        .select(['o.id', 'o.kind', 'o.payload'])
        .where('o.device_id = :deviceId', { deviceId })
        .andWhere('o.id > :afterId', { afterId })
        .andWhere('o.expires_at > :now', { now: new Date() })
        .orderBy('o.id', 'ASC')
        .limit(limit)
        .getMany();
    } catch (err) {
      throw RoomcastError.unavailable(`offline items not read: ${message(err)}`);
    }
    return rows.map((row) => ({
      id: Number(row.id),
      kind: row.kind,
      payload: JSON.parse(row.payload) as object,
    }));
  }

  /**
   * The client has the device's items up to `upToId` (included): they are removed through
   * the queue (`offline.delivered`, retried and dead-lettered like any job), so this never
   * throws. Until the job ran, `pending` with an `afterId` at or above `upToId` skips them.
   */
  acknowledge(deviceId: string, upToId: number): void {
    if (!Number.isSafeInteger(upToId) || upToId <= 0) return;
    this.jobs.record(JobName.OfflineDelivered, { deviceId, upToId });
  }

  /**
   * Removes one pending item by its dedupe key (a direct message recalled before the device
   * came back: `dedupeKey` is then the message id). Durable when it resolves; resolves also
   * when there was no such item. Rejects with UNAVAILABLE when the database refuses.
   */
  async discard(deviceId: string, dedupeKey: string): Promise<void> {
    try {
      await this.items.delete({ deviceId, dedupeKey });
    } catch (err) {
      throw RoomcastError.unavailable(`offline item not discarded: ${message(err)}`);
    }
  }

  /** How many items the device has pending (expired ones not counted). */
  count(deviceId: string): Promise<number> {
    return this.items.count({ where: { deviceId, expiresAt: MoreThan(new Date()) } });
  }
}

import { Injectable } from '@nestjs/common';
import { Histogram, Registry } from 'prom-client';
import { DataSource, type ObjectLiteral, type QueryDeepPartialEntity } from 'typeorm';
import { ConnectionEntity } from '../../audit/connection.entity.js';
import { RoomQueryEntity } from '../../audit/room-query.entity.js';
import { DeviceEntity } from '../../devices/device.entity.js';
import { BatchWriter } from '../batch-writer.js';
import { sqlDialect } from '../database-options.js';
import { JobHandler } from '../job-handler.decorator.js';
import { type ConnectionJob, type DeviceSeenJob, JobName, type RoomQueriedJob } from '../job-registry.js';

const connectionRow = (job: ConnectionJob): ConnectionEntity => ({
  sessionId: job.sessionId,
  deviceId: job.deviceId,
  roomId: job.roomId,
  identity: job.identity,
  clientIp: job.clientIp,
  nodeId: job.nodeId,
  connectedAt: new Date(job.connectedAt),
  disconnectedAt: job.disconnectedAt === null ? null : new Date(job.disconnectedAt),
  closeCode: job.closeCode,
});

/**
 * Rows in key order: two nodes' statements then lock the rows they share in the same order
 * instead of deadlocking. The writes converge, so the order of a device's sightings is free.
 */
const connectionRows = (jobs: ConnectionJob[]) =>
  jobs.map(connectionRow).sort((a, b) => compare(a.sessionId, b.sessionId));

const deviceRows = (jobs: DeviceSeenJob[]) =>
  jobs
    .map((job): DeviceEntity => ({
      deviceId: job.deviceId,
      lastIdentity: job.identity,
      lastRoomId: job.roomId,
      firstConnectedAt: new Date(job.at),
      lastConnectedAt: new Date(job.at),
    }))
    .sort((a, b) => compare(a.deviceId, b.deviceId));

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The upsert clause of devices, per dialect (TypeORM's orUpdate cannot express it). Jobs of
 * one device may commit out of order (the audit queue runs 50 at once), so the last_*
 * columns change only for a sighting at least as recent as the stored one, and
 * first_connected_at keeps the earliest. MySQL applies assignments left to right, hence
 * last_connected_at last.
 */
const DEVICE_UPSERT = {
  mysql: `ON DUPLICATE KEY UPDATE
    first_connected_at = LEAST(first_connected_at, VALUES(first_connected_at)),
    last_identity = IF(VALUES(last_connected_at) >= last_connected_at, VALUES(last_identity), last_identity),
    last_room_id = IF(VALUES(last_connected_at) >= last_connected_at, VALUES(last_room_id), last_room_id),
    last_connected_at = GREATEST(last_connected_at, VALUES(last_connected_at))`,
  sqlite: `ON CONFLICT (device_id) DO UPDATE SET
    first_connected_at = MIN(first_connected_at, excluded.first_connected_at),
    last_identity = CASE WHEN excluded.last_connected_at >= last_connected_at THEN excluded.last_identity ELSE last_identity END,
    last_room_id = CASE WHEN excluded.last_connected_at >= last_connected_at THEN excluded.last_room_id ELSE last_room_id END,
    last_connected_at = MAX(last_connected_at, excluded.last_connected_at)`,
};

/** Rows per statement: a handshake's rows arrive one or two at a time, a reconnect storm's by the thousand. */
const AUDIT_BATCH_SIZE = 200;

/**
 * Audit trail of the room-manager schema. Every write is idempotent or convergent, since a
 * job may run more than once (retries) and related jobs in any order: connection.opened and
 * connection.closed of one session leave the same row whichever commits first.
 *
 * The rows of every connection (opened, closed, device seen) go through batch writers (group
 * commit: the jobs that run together, a pack or those arriving during a write, share one
 * statement), as messages do: each handshake brings two of them, and a statement per row
 * made the database's round trips a large part of a handshake's cost.
 */
@Injectable()
export class AuditProcessor {
  private readonly opened: BatchWriter<ConnectionJob>;
  private readonly closed: BatchWriter<ConnectionJob>;
  private readonly seen: BatchWriter<DeviceSeenJob>;

  constructor(
    private readonly dataSource: DataSource,
    registry: Registry,
  ) {
    const rowsPerStatement = new Histogram({
      name: 'roomcast_audit_write_rows',
      help: 'Rows per statement of the audit writers, by write (its _count is the number of statements).',
      labelNames: ['write'],
      buckets: [1, 2, 5, 10, 50, 200],
      registers: [registry],
    });
    const writer = <T>(name: string, write: (jobs: T[]) => Promise<unknown>) =>
      new BatchWriter<T>({
        maxSize: AUDIT_BATCH_SIZE,
        maxWaitMs: 0,
        write: async (jobs) => {
          await write(jobs);
          rowsPerStatement.observe({ write: name }, jobs.length);
        },
      });
    this.opened = writer('connection_opened', (jobs: ConnectionJob[]) =>
      // A row already there came from this job's earlier run or from the (fuller) close job.
      // A no-op update rather than orIgnore: MySQL's INSERT IGNORE would also hide real errors.
      this.insert(ConnectionEntity, connectionRows(jobs)).orUpdate(['session_id'], ['session_id']).execute(),
    );
    this.closed = writer('connection_closed', (jobs: ConnectionJob[]) =>
      this.insert(ConnectionEntity, connectionRows(jobs))
        .orUpdate(['disconnected_at', 'close_code'], ['session_id'])
        .execute(),
    );
    this.seen = writer('device_seen', (jobs: DeviceSeenJob[]) => {
      // The builder renders the INSERT with each driver's own value conversion (dates).
      const [sql, parameters] = this.insert(DeviceEntity, deviceRows(jobs)).getQueryAndParameters();
      return this.dataSource.query(`${sql} ${DEVICE_UPSERT[sqlDialect(this.dataSource)]}`, parameters);
    });
  }

  @JobHandler(JobName.ConnectionOpened)
  connectionOpened(job: ConnectionJob): Promise<void> {
    return this.opened.add(job);
  }

  @JobHandler(JobName.ConnectionClosed)
  connectionClosed(job: ConnectionJob): Promise<void> {
    return this.closed.add(job);
  }

  @JobHandler(JobName.DeviceSeen)
  deviceSeen(job: DeviceSeenJob): Promise<void> {
    return this.seen.add(job);
  }

  /** Not idempotent (the table has no natural key): a retry after a lost commit may log the query twice. */
  @JobHandler(JobName.RoomQueried)
  async roomQueried(job: RoomQueriedJob): Promise<void> {
    await this.insert(RoomQueryEntity, {
      roomId: job.roomId,
      deviceId: job.deviceId,
      totalClients: job.totalClients,
      queriedAt: new Date(job.queriedAt),
    }).execute();
  }

  private insert<E extends ObjectLiteral>(
    entity: new () => E,
    rows: QueryDeepPartialEntity<E> | QueryDeepPartialEntity<E>[],
  ) {
    return this.dataSource.createQueryBuilder().insert().into(entity).values(rows).updateEntity(false);
  }
}

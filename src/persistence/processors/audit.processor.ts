import { Injectable } from '@nestjs/common';
import { DataSource, type ObjectLiteral, type QueryDeepPartialEntity } from 'typeorm';
import { ConnectionEntity } from '../../audit/connection.entity.js';
import { RoomQueryEntity } from '../../audit/room-query.entity.js';
import { DeviceEntity } from '../../devices/device.entity.js';
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

/**
 * Audit trail of the room-manager schema. Every write is idempotent or convergent, since a
 * job may run more than once (retries) and related jobs in any order: connection.opened and
 * connection.closed of one session leave the same row whichever commits first.
 */
@Injectable()
export class AuditProcessor {
  constructor(private readonly dataSource: DataSource) {}

  @JobHandler(JobName.ConnectionOpened)
  async connectionOpened(job: ConnectionJob): Promise<void> {
    // A row already there came from this job's earlier run or from the (fuller) close job.
    // A no-op update rather than orIgnore: MySQL's INSERT IGNORE would also hide real errors.
    await this.insert(ConnectionEntity, connectionRow(job))
      .orUpdate(['session_id'], ['session_id'])
      .execute();
  }

  @JobHandler(JobName.ConnectionClosed)
  async connectionClosed(job: ConnectionJob): Promise<void> {
    await this.insert(ConnectionEntity, connectionRow(job))
      .orUpdate(['disconnected_at', 'close_code'], ['session_id'])
      .execute();
  }

  @JobHandler(JobName.DeviceSeen)
  async deviceSeen(job: DeviceSeenJob): Promise<void> {
    const at = new Date(job.at);
    const row: DeviceEntity = {
      deviceId: job.deviceId,
      lastIdentity: job.identity,
      lastRoomId: job.roomId,
      firstConnectedAt: at,
      lastConnectedAt: at,
    };
    // The builder renders the INSERT with each driver's own value conversion (dates).
    const [sql, parameters] = this.insert(DeviceEntity, row).getQueryAndParameters();
    await this.dataSource.query(`${sql} ${DEVICE_UPSERT[sqlDialect(this.dataSource)]}`, parameters);
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

  private insert<E extends ObjectLiteral>(entity: new () => E, row: QueryDeepPartialEntity<E>) {
    return this.dataSource.createQueryBuilder().insert().into(entity).values(row).updateEntity(false);
  }
}

import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { AppConfig } from '../config/app-config.js';
import {
  Lifecycle,
  type ConnectedEvent,
  type DisconnectedEvent,
  type RoomQueriedEvent,
} from '../common/lifecycle-events.js';
import { JobQueue } from '../persistence/job-queue.js';
import { JobName, type ConnectionJob } from '../persistence/job-registry.js';

/**
 * Keeps the record of who connected from where and who queried which room, by turning
 * lifecycle events into audit jobs. Never on a client's critical path: the queue retries a
 * failed record and dead-letters it for an operator; the client is not affected.
 */
@Injectable()
export class AuditService {
  constructor(
    private readonly jobs: JobQueue,
    private readonly config: AppConfig,
  ) {}

  @OnEvent(Lifecycle.Connected)
  onConnected(e: ConnectedEvent): void {
    this.jobs.record(JobName.ConnectionOpened, this.connection(e, null, null));
  }

  @OnEvent(Lifecycle.Disconnected)
  onDisconnected(e: DisconnectedEvent): void {
    this.jobs.record(JobName.ConnectionClosed, this.connection(e, e.disconnectedAt.getTime(), e.closeCode));
  }

  @OnEvent(Lifecycle.RoomQueried)
  onRoomQueried(e: RoomQueriedEvent): void {
    this.jobs.record(JobName.RoomQueried, {
      roomId: e.roomId,
      deviceId: e.deviceId,
      totalClients: e.totalClients,
      queriedAt: e.queriedAt.getTime(),
    });
  }

  private connection(
    e: ConnectedEvent,
    disconnectedAt: number | null,
    closeCode: number | null,
  ): ConnectionJob {
    return {
      sessionId: e.sessionId,
      deviceId: e.deviceId,
      roomId: e.roomId || null,
      identity: e.identity,
      clientIp: e.clientIp,
      nodeId: this.config.NODE_ID,
      connectedAt: e.connectedAt.getTime(),
      disconnectedAt,
      closeCode,
    };
  }
}

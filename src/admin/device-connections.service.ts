import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { ConnectionEntity } from '../audit/connection.entity.js';
import type { ConnectionDto } from './dto/devices.dto.js';

/** Read-only view of the `connections` audit table. */
@Injectable()
export class DeviceConnectionsService {
  constructor(
    @InjectRepository(ConnectionEntity) private readonly connections: Repository<ConnectionEntity>,
  ) {}

  /** The device's sessions, newest first (served by idx_connections_device). */
  async recent(deviceId: string, limit: number): Promise<ConnectionDto[]> {
    const rows = await this.connections.find({
      where: { deviceId },
      order: { connectedAt: 'DESC', sessionId: 'DESC' },
      take: limit,
    });
    return rows.map((row) => ({
      session_id: row.sessionId,
      device_id: row.deviceId,
      room_id: row.roomId,
      identity: row.identity,
      client_ip: row.clientIp,
      node_id: row.nodeId,
      connected_at: new Date(row.connectedAt).toISOString(),
      disconnected_at: row.disconnectedAt ? new Date(row.disconnectedAt).toISOString() : null,
      close_code: row.closeCode,
    }));
  }
}

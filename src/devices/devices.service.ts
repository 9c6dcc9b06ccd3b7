import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { JobQueue } from '../persistence/job-queue.js';
import { JobName } from '../persistence/job-registry.js';
import { DeviceEntity } from './device.entity.js';

const RECENT_LIMIT = 10_000;

/**
 * What the server remembers of a device between connections, chiefly its last room
 * (a reconnect returns the device to it). Writes go through the audit queue; a small map of
 * recent handshakes covers the moment before the worker has written the row.
 */
@Injectable()
export class DevicesService {
  private readonly recent = new Map<string, string | null>();

  constructor(
    @InjectRepository(DeviceEntity) private readonly devices: Repository<DeviceEntity>,
    private readonly jobs: JobQueue,
  ) {}

  async lastRoom(deviceId: string): Promise<string | null> {
    if (this.recent.has(deviceId)) return this.recent.get(deviceId) ?? null;
    const row = await this.devices.findOne({ where: { deviceId }, select: { lastRoomId: true } });
    return row?.lastRoomId ?? null;
  }

  get(deviceId: string): Promise<DeviceEntity | null> {
    return this.devices.findOneBy({ deviceId });
  }

  /** Records a handshake; the queue owns its failures (retry, dead letter): no message depends on it. */
  seen(deviceId: string, identity: string, roomId: string | null): void {
    this.recent.delete(deviceId);
    this.recent.set(deviceId, roomId);
    if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.keys().next().value!);
    this.jobs.record(JobName.DeviceSeen, { deviceId, identity, roomId, at: Date.now() });
  }
}

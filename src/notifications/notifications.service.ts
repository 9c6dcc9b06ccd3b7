import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { SystemEvent } from '#protocol';
import { Repository } from 'typeorm';
import { timeOrderedId } from '../common/time-ordered-id.js';
import { LiveDelivery } from '../common/live-delivery.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { AppConfig } from '../config/app-config.js';
import { DeviceEntity } from '../devices/device.entity.js';
import { SessionsService } from '../gateway/index.js';
import { type OfflineItemInput, OfflineService } from '../offline/offline.service.js';
import { RoomsService } from '../rooms/rooms.service.js';

/** Known devices read (and offline items stored) per round when notifying everyone. */
export const EVERYONE_BATCH = 500;

/** Who gets a notification: exactly one of the three. */
export interface NotificationTarget {
  /** These devices: live when connected, else kept offline. */
  deviceIds?: string[];
  /** The room's members connected now (live only: rooms have no durable member list). */
  roomId?: string;
  /** Every connected client, and every device seen within OFFLINE_TTL_MS kept offline. */
  everyone?: boolean;
}

export interface Notification extends NotificationTarget {
  /** `system` event kind (`notification`, `invitation`, `announcement`, ...). */
  kind: string;
  payload: unknown;
  /**
   * Offline dedupe key. Default: one per notification (`system:<notification id>`), so a
   * retried store is one row. A caller may give a stable key instead, so that a repeated
   * notification is kept once per device while the first one is pending.
   */
  dedupeKey?: string;
}

export interface NotificationResult {
  notificationId: string;
  /** Connections the `system` event was written to now. */
  delivered: number;
  /** Devices it was kept for as an offline item. */
  stored: number;
}

export interface Invitation {
  roomId: string;
  from: { deviceId: string; identity: string };
  deviceId: string;
}

/**
 * `system` events for devices, rooms or everyone: delivered live to connected clients
 * (LiveDelivery) and kept in the offline inbox (OfflineService) for the targeted devices
 * that are not connected. Resolves once every offline item is durable; rejects with
 * UNAVAILABLE when they could not be stored (the live deliveries made before stay made).
 */
@Injectable()
export class NotificationsService {
  constructor(
    private readonly live: LiveDelivery,
    private readonly sessions: SessionsService,
    private readonly offline: OfflineService,
    private readonly rooms: RoomsService,
    @InjectRepository(DeviceEntity) private readonly devices: Repository<DeviceEntity>,
    private readonly config: AppConfig,
  ) {}

  async notify(notification: Notification): Promise<NotificationResult> {
    const targets = [notification.deviceIds, notification.roomId, notification.everyone || undefined];
    if (targets.filter((t) => t !== undefined).length !== 1)
      throw RoomcastError.badRequest('exactly one target is required: device_ids, room_id or everyone');
    const notificationId = timeOrderedId();
    const event: SystemEvent = { kind: notification.kind, payload: notification.payload, ts: Date.now() };
    const dedupeKey = notification.dedupeKey ?? `system:${notificationId}`;
    let counts: { delivered: number; stored: number };
    if (notification.deviceIds) {
      if (notification.deviceIds.length === 0) throw RoomcastError.badRequest('device_ids is empty');
      counts = await this.toDevices([...new Set(notification.deviceIds)], event, dedupeKey);
    } else if (notification.roomId !== undefined) {
      await this.rooms.getOrThrow(notification.roomId);
      counts = { delivered: await this.sessions.announceEvent(notification.roomId, event), stored: 0 };
    } else {
      counts = await this.toEveryone(event, dedupeKey);
    }
    return { notificationId, ...counts };
  }

  /**
   * `system` kind `invitation`, payload `{room_id, from: {device_id, identity}}`, to one
   * device. The room must exist (NOT_FOUND). Invitations to a room from one inviter that the
   * device has pending are kept once. Whether the inviter may invite is the caller's check.
   * An invitation to a private room puts the device on its member list first, so that it can
   * join as soon as it reads the invitation.
   */
  async invite(invitation: Invitation): Promise<NotificationResult> {
    const room = await this.rooms.getOrThrow(invitation.roomId);
    if (room.isPrivate) await this.rooms.addMember(room, invitation.deviceId, invitation.from.deviceId);
    const key = createHash('sha256')
      .update(`${invitation.roomId}\n${invitation.from.deviceId}`)
      .digest('base64url');
    return this.notify({
      deviceIds: [invitation.deviceId],
      kind: 'invitation',
      payload: {
        room_id: invitation.roomId,
        from: { device_id: invitation.from.deviceId, identity: invitation.from.identity },
      },
      dedupeKey: `invitation:${key}`,
    });
  }

  private async toDevices(
    deviceIds: string[],
    event: SystemEvent,
    dedupeKey: string,
  ): Promise<{ delivered: number; stored: number }> {
    let delivered = 0;
    const kept: OfflineItemInput[] = [];
    for (const deviceId of deviceIds) {
      if (await this.live.toDevice(deviceId, 'system', event, { dedupeKey })) delivered++;
      else kept.push({ deviceId, kind: 'system', payload: event, dedupeKey });
    }
    await this.offline.store(kept);
    return { delivered, stored: kept.length };
  }

  /**
   * Live: one frame to every client of the cluster (as POST /api/broadcast), the connected
   * devices read from presence just before. A device that connects in between may get it
   * both live and from its inbox (the same dedupe key keeps the inbox to one copy).
   * Offline: the devices seen within OFFLINE_TTL_MS (the `devices` table), page by page;
   * one that connected since the broadcast gets it live, the others keep it offline.
   */
  private async toEveryone(
    event: SystemEvent,
    dedupeKey: string,
  ): Promise<{ delivered: number; stored: number }> {
    const reached = new Set((await this.sessions.clients()).map((c) => c.device_id));
    let delivered = await this.sessions.announceEvent(null, event);
    let stored = 0;
    const seenSince = new Date(event.ts - this.config.OFFLINE_TTL_MS);
    let after = '';
    for (;;) {
      const page = await this.devices
        .createQueryBuilder('d')
        .select('d.device_id', 'deviceId')
        .where('d.last_connected_at >= :seenSince', { seenSince })
        .andWhere('d.device_id > :after', { after })
        .orderBy('d.device_id', 'ASC')
        .limit(EVERYONE_BATCH)
        .getRawMany<{ deviceId: string }>();
      const absent = page.map((r) => r.deviceId).filter((id) => !reached.has(id));
      const counts = await this.toDevices(absent, event, dedupeKey);
      delivered += counts.delivered;
      stored += counts.stored;
      if (page.length < EVERYONE_BATCH) break;
      after = page[page.length - 1].deviceId;
    }
    return { delivered, stored };
  }
}

import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { LiveDelivery } from '../common/live-delivery.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { MessageEntity } from '../messaging/message.entity.js';
import { conversationOf, MessagingService } from '../messaging/messaging.service.js';
import { JobQueue } from '../persistence/job-queue.js';
import { JobName } from '../persistence/job-registry.js';
import { furthest, isFurther, type ReadMarker, ReadStateCache } from './read-state.cache.js';
import { ReadStateEntity } from './read-state.entity.js';

export interface Reader {
  deviceId: string;
  identity: string;
  /** The reader's session: it is not sent its own room receipt. */
  sessionId: string;
}

/** What was read: a room up to a seq, or a direct conversation up to a message. */
export type ReadTarget =
  { roomId: string; upToSeq: number } | { peerDeviceId: string; upToMessageId: string };

/** One room or one direct conversation of a device. */
export type ReadScope = { roomId: string } | { peerDeviceId: string };

export interface RoomUnread {
  roomId: string;
  /** lastSeq − upToSeq, never negative. */
  unread: number;
  /** 0 when the device has read nothing in the room. */
  upToSeq: number;
  lastSeq: number;
}

export interface PeerUnread {
  peerDeviceId: string;
  /** Messages of the conversation sent by the peer after the marker, recalled ones excepted. */
  unread: number;
  /** null when the device has read nothing of the conversation. */
  upToMessageId: string | null;
}

export interface DeviceUnread {
  deviceId: string;
  /** By room id. */
  rooms: RoomUnread[];
  /** By peer device id. */
  peers: PeerUnread[];
}

/** The read_state key of a scope. */
export const readScope = (scope: ReadScope): string =>
  'roomId' in scope ? `room:${scope.roomId}` : `peer:${scope.peerDeviceId}`;

/** While the writer catches up with the queue, a message just received may not be stored yet. */
const LOOKUP_ATTEMPTS = 10;
const LOOKUP_INTERVAL_MS = 100;

/**
 * Read state (how far each device has read each room and direct conversation), the `receipt`
 * events that tell the others, and unread counts. Markers only move forward. They are written
 * through the queue (JobName.ReadStateUpdated; the processor keeps the furthest marker, so
 * jobs may run in any order) and cached on this node, so a read right after a write sees it.
 * Receipts are live only: a device that is not connected does not get them later.
 */
@Injectable()
export class ReceiptsService {
  private readonly cache = new ReadStateCache();

  constructor(
    private readonly messaging: MessagingService,
    private readonly jobs: JobQueue,
    private readonly live: LiveDelivery,
    @InjectRepository(ReadStateEntity) private readonly readStates: Repository<ReadStateEntity>,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
  ) {}

  /**
   * Moves the reader's marker forward and sends the receipt: for a room, to its other
   * members; for a conversation, to the peer. A marker at or behind the known one changes
   * nothing and sends nothing. Resolves true when the marker moved.
   *
   * Throws BAD_REQUEST for a seq beyond the room's last one, NOT_FOUND for a message that is
   * not in the conversation of the reader and the peer. Membership of the room is the
   * caller's check.
   */
  async markRead(reader: Reader, target: ReadTarget): Promise<boolean> {
    let scope: string;
    let marker: ReadMarker;
    if ('roomId' in target) {
      const lastSeq = await this.messaging.lastSeq(target.roomId);
      if (!Number.isSafeInteger(target.upToSeq) || target.upToSeq < 0 || target.upToSeq > lastSeq) {
        throw RoomcastError.badRequest(
          `up_to_seq ${target.upToSeq} is not a seq of room ${target.roomId} (last seq ${lastSeq})`,
        );
      }
      scope = readScope(target);
      marker = { upToSeq: target.upToSeq, upToMessageId: null };
    } else {
      await this.findInConversation(target.upToMessageId, reader.deviceId, target.peerDeviceId);
      scope = readScope(target);
      marker = { upToSeq: null, upToMessageId: target.upToMessageId };
    }

    const stored = this.cache.get(reader.deviceId, scope) ?? (await this.stored(reader.deviceId, scope));
    // Checked again after the await: the cache is the one place a concurrent call could have moved it.
    const known = furthest(this.cache.get(reader.deviceId, scope), stored);
    if (!isFurther(marker, known)) return false;
    this.cache.merge(reader.deviceId, scope, marker);
    this.jobs.record(JobName.ReadStateUpdated, {
      deviceId: reader.deviceId,
      scope,
      upToSeq: marker.upToSeq,
      upToMessageId: marker.upToMessageId,
      at: Date.now(),
    });

    if ('roomId' in target) {
      void this.live.toRoom(
        target.roomId,
        'receipt',
        { room_id: target.roomId, device_id: reader.deviceId, up_to_seq: target.upToSeq },
        reader.sessionId,
      );
    } else {
      void this.live.toDevice(target.peerDeviceId, 'receipt', {
        peer_device_id: reader.deviceId,
        device_id: reader.deviceId,
        up_to_message_id: target.upToMessageId,
      });
    }
    return true;
  }

  /**
   * Unread counts of a device: every room and conversation it has read state for, every
   * device that sent it a direct message, and the rooms and peers given (listed even at 0).
   */
  async unread(
    deviceId: string,
    include: { rooms?: string[]; peers?: string[] } = {},
  ): Promise<DeviceUnread> {
    const markers = await this.markers(deviceId);
    const rooms = new Set(include.rooms ?? []);
    const peers = new Set(include.peers ?? []);
    for (const scope of markers.keys()) {
      if (scope.startsWith('room:')) rooms.add(scope.slice('room:'.length));
      else if (scope.startsWith('peer:')) peers.add(scope.slice('peer:'.length));
    }
    for (const peer of await this.senders(deviceId)) peers.add(peer);
    const [roomCounts, peerCounts] = await Promise.all([
      Promise.all(
        [...rooms].sort().map((roomId) => this.roomUnread(roomId, markers.get(readScope({ roomId })))),
      ),
      Promise.all(
        [...peers]
          .sort()
          .map((peerDeviceId) =>
            this.peerUnread(deviceId, peerDeviceId, markers.get(readScope({ peerDeviceId }))),
          ),
      ),
    ]);
    return { deviceId, rooms: roomCounts, peers: peerCounts };
  }

  /** Unread count of one room or conversation of the device (for `history` answers). */
  unreadFor(deviceId: string, scope: { roomId: string }): Promise<RoomUnread>;
  unreadFor(deviceId: string, scope: { peerDeviceId: string }): Promise<PeerUnread>;
  unreadFor(deviceId: string, scope: ReadScope): Promise<RoomUnread | PeerUnread>;
  async unreadFor(deviceId: string, scope: ReadScope): Promise<RoomUnread | PeerUnread> {
    const key = readScope(scope);
    const marker = furthest(await this.stored(deviceId, key), this.cache.get(deviceId, key));
    return 'roomId' in scope
      ? this.roomUnread(scope.roomId, marker)
      : this.peerUnread(deviceId, scope.peerDeviceId, marker);
  }

  private async roomUnread(roomId: string, marker: ReadMarker | undefined): Promise<RoomUnread> {
    const lastSeq = await this.messaging.lastSeq(roomId);
    const upToSeq = marker?.upToSeq ?? 0;
    return { roomId, unread: Math.max(0, lastSeq - upToSeq), upToSeq, lastSeq };
  }

  private async peerUnread(
    deviceId: string,
    peerDeviceId: string,
    marker: ReadMarker | undefined,
  ): Promise<PeerUnread> {
    const upToMessageId = marker?.upToMessageId ?? null;
    const qb = this.messages
      .createQueryBuilder('m')
      .where('m.conversation = :conversation', { conversation: conversationOf(deviceId, peerDeviceId) })
      .andWhere('m.from_device_id = :peerDeviceId', { peerDeviceId })
      .andWhere('m.recalled_at IS NULL');
    // Message ids are UUIDv7: their order is the order the server accepted the messages.
    if (upToMessageId !== null) qb.andWhere('m.message_id > :upToMessageId', { upToMessageId });
    return { peerDeviceId, unread: await qb.getCount(), upToMessageId };
  }

  /** Devices that sent this device direct messages. */
  private async senders(deviceId: string): Promise<string[]> {
    const rows = await this.messages
      .createQueryBuilder('m')
      .select('DISTINCT m.from_device_id', 'peer')
      .where('m.to_device_id = :deviceId', { deviceId })
      .getRawMany<{ peer: string }>();
    return rows.map((r) => r.peer);
  }

  /** Every marker of the device: stored, merged with the ones this node wrote and may not have stored yet. */
  private async markers(deviceId: string): Promise<Map<string, ReadMarker>> {
    const markers = new Map<string, ReadMarker>();
    for (const row of await this.readStates.findBy({ deviceId })) markers.set(row.scope, marker(row));
    for (const [scope, cached] of this.cache.scopes(deviceId))
      markers.set(scope, furthest(markers.get(scope), cached)!);
    return markers;
  }

  /** The stored marker of one scope (cached for the next markRead). */
  private async stored(deviceId: string, scope: string): Promise<ReadMarker | undefined> {
    const row = await this.readStates.findOneBy({ deviceId, scope });
    if (!row) return undefined;
    const stored = marker(row);
    this.cache.merge(deviceId, scope, stored);
    return stored;
  }

  /** The message, if it belongs to the conversation of the two devices; waits briefly for the writer. */
  private async findInConversation(messageId: string, deviceId: string, peerDeviceId: string): Promise<void> {
    const conversation = conversationOf(deviceId, peerDeviceId);
    for (let attempt = 1; ; attempt++) {
      const row = await this.messages.findOne({
        select: { messageId: true, conversation: true },
        where: { messageId },
      });
      if (row) {
        if (row.conversation !== conversation) break;
        return;
      }
      if (attempt === LOOKUP_ATTEMPTS) break;
      await new Promise((r) => setTimeout(r, LOOKUP_INTERVAL_MS));
    }
    throw RoomcastError.notFound(`message ${messageId} is not in the conversation with ${peerDeviceId}`);
  }
}

const marker = (row: ReadStateEntity): ReadMarker => ({
  upToSeq: row.upToSeq === null ? null : Number(row.upToSeq),
  upToMessageId: row.upToMessageId,
});

import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ErrorCode } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';
import { Lifecycle, type MembershipEvent } from '../common/lifecycle-events.js';
import { type Member, PresenceStore } from './presence.store.js';

/**
 * Room membership. Publishes Joined/Left lifecycle events; the gateway turns them into
 * `presence.join` / `presence.leave` frames for the other members.
 */
@Injectable()
export class PresenceService {
  constructor(
    private readonly store: PresenceStore,
    private readonly events: EventEmitter2,
  ) {}

  /** Adds the member; throws ROOM_FULL at capacity (0: unlimited). Returns the room's new total. */
  async join(roomId: string, member: Member, capacity: number): Promise<number> {
    const total = await this.store.add(roomId, member, capacity);
    if (total === null)
      throw new RoomcastError(ErrorCode.ROOM_FULL, `room ${roomId} is full (${capacity} clients)`);
    this.events.emit(Lifecycle.Joined, this.event(roomId, member));
    return total;
  }

  async leave(roomId: string, member: Member): Promise<boolean> {
    const removed = await this.store.remove(roomId, member.deviceId, member.sessionId);
    if (removed) this.events.emit(Lifecycle.Left, this.event(roomId, member));
    return removed;
  }

  members(roomId: string): Promise<Member[]> {
    return this.store.members(roomId);
  }

  count(roomId: string): Promise<number> {
    return this.store.count(roomId);
  }

  occupied(): Promise<Map<string, number>> {
    return this.store.occupied();
  }

  /** Records that the device is connected (the device registry other modules route by). */
  connect(member: Member): Promise<void> {
    return this.store.connect(member);
  }

  disconnect(member: Member): Promise<void> {
    return this.store.disconnect(member.deviceId, member.sessionId);
  }

  /** Whether the device has a live connection (on any node, once presence is shared). */
  async isOnline(deviceId: string): Promise<boolean> {
    return (await this.store.session(deviceId)) !== undefined;
  }

  private event(roomId: string, m: Member): MembershipEvent {
    return { roomId, deviceId: m.deviceId, identity: m.identity, sessionId: m.sessionId };
  }
}

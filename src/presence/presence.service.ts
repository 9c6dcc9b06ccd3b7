import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ErrorCode } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';
import { Lifecycle, type DisconnectedEvent, type MembershipEvent } from '../common/lifecycle-events.js';
import { type Member, type NodeInfo, PresenceStore, type Session } from './presence.store.js';

/** One node's connections, as its gateway knows them. */
export interface LocalPresence {
  sessions: Session[];
  memberships: Array<[roomId: string, member: Member]>;
}

/** Recorded for connections that ended with their node: they never sent a close frame. */
const ABNORMAL_CLOSURE = 1006;

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

  /** Records the device's connection: the route other nodes reach it by. */
  connect(session: Session): Promise<void> {
    return this.store.connect(session);
  }

  disconnect(member: Member): Promise<void> {
    return this.store.disconnect(member.deviceId, member.sessionId);
  }

  /** Whether the device has a live connection, on any node. */
  async isOnline(deviceId: string): Promise<boolean> {
    return (await this.store.session(deviceId)) !== undefined;
  }

  /** Where the device is connected, if anywhere (on a node that is alive). */
  route(deviceId: string): Promise<Session | undefined> {
    return this.store.session(deviceId);
  }

  /** Connected devices, cluster-wide. */
  sessionCount(): Promise<number> {
    return this.store.sessionCount();
  }

  /** Every connected device, cluster-wide, with its rooms. */
  sessions(): Promise<Array<Session & { rooms: string[] }>> {
    return this.store.sessions();
  }

  /**
   * Makes the store agree with this node's connections after it may have lost track (Redis
   * restarted, was unreachable while sockets closed, or presumed the node dead): members
   * that left meanwhile are removed and announced; the connected ones are put back silently
   * (they never left, so nobody is told).
   */
  async reconcile(nodeId: string, local: LocalPresence): Promise<void> {
    const stored = await this.store.entries(nodeId);
    const inRoom = new Set(
      local.memberships.map(([roomId, m]) => `${roomId}\t${m.deviceId}\t${m.sessionId}`),
    );
    const connected = new Set(local.sessions.map((s) => `${s.deviceId}\t${s.sessionId}`));
    for (const { roomId, member } of stored.left)
      if (!inRoom.has(`${roomId}\t${member.deviceId}\t${member.sessionId}`)) await this.leave(roomId, member);
    for (const s of stored.sessions)
      if (!connected.has(`${s.deviceId}\t${s.sessionId}`))
        await this.store.disconnect(s.deviceId, s.sessionId);
    await Promise.all([
      ...local.sessions.map((s) => this.store.connect(s)),
      ...local.memberships.map(([roomId, m]) => this.store.add(roomId, m, 0)),
    ]);
  }

  /** Keeps the node alive for ttlMs; false when the store had it as gone (reconcile then). */
  heartbeat(info: NodeInfo, ttlMs: number): Promise<boolean> {
    return this.store.heartbeat(info, ttlMs);
  }

  nodes(): Promise<NodeInfo[]> {
    return this.store.nodes();
  }

  deadNodes(): Promise<string[]> {
    return this.store.deadNodes();
  }

  /** Known and with an unexpired heartbeat: neither dead nor already evicted. */
  async isNodeAlive(nodeId: string): Promise<boolean> {
    const [nodes, dead] = await Promise.all([this.store.nodes(), this.store.deadNodes()]);
    return nodes.some((n) => n.node_id === nodeId) && !dead.includes(nodeId);
  }

  /**
   * Removes a dead node's members and routes (or this node's own, at a clean shutdown:
   * `force`). Each member removed is published as Left once, and each session as
   * Disconnected, by whichever node won the removal.
   */
  async evictNode(nodeId: string, force = false): Promise<number> {
    const eviction = await this.store.evict(nodeId, force);
    for (const { roomId, member } of eviction.left)
      this.events.emit(Lifecycle.Left, this.event(roomId, member));
    const now = new Date();
    for (const s of eviction.sessions) {
      const event: DisconnectedEvent = {
        sessionId: s.sessionId,
        deviceId: s.deviceId,
        identity: s.identity,
        roomId: s.primaryRoom ?? '',
        clientIp: s.clientIp,
        connectedAt: new Date(s.connectedAt),
        disconnectedAt: now,
        closeCode: ABNORMAL_CLOSURE,
      };
      this.events.emit(Lifecycle.Disconnected, event);
    }
    return eviction.sessions.length;
  }

  private event(roomId: string, m: Member): MembershipEvent {
    return { roomId, deviceId: m.deviceId, identity: m.identity, sessionId: m.sessionId };
  }
}

import type { NodeLoadSample } from '../metrics/node-load.js';

export interface Member {
  deviceId: string;
  identity: string;
  sessionId: string;
  nodeId: string;
}

/** A device's live connection: the route other nodes reach it by. */
export interface Session extends Member {
  clientIp: string;
  /** Epoch ms. */
  connectedAt: number;
  primaryRoom: string | null;
}

/** What a node reports of itself with every heartbeat. */
export interface NodeInfo {
  node_id: string;
  role: string;
  connections: number;
  started_at: string;
  heartbeat_at: string;
  /** Its load over its last sampling window (absent from nodes of older versions). */
  load?: NodeLoadSample;
}

/** What removing a dead node took away: its room memberships and its sessions. */
export interface Eviction {
  left: Array<{ roomId: string; member: Member }>;
  sessions: Session[];
}

/**
 * Who is in which room, which node each device is connected to, and which nodes are
 * alive. One process uses the in-memory store; a cluster shares the Redis store, so every
 * node answers presence questions without asking the others.
 */
export abstract class PresenceStore {
  /**
   * Adds the member unless the room already holds `capacity` members (0: no limit).
   * Returns the new total, or null when the room is full. Re-adding a device updates it.
   */
  abstract add(roomId: string, member: Member, capacity: number): Promise<number | null>;
  /** Removes the device from the room if it is there with this session; returns whether it was. */
  abstract remove(roomId: string, deviceId: string, sessionId: string): Promise<boolean>;
  abstract members(roomId: string): Promise<Member[]>;
  abstract count(roomId: string): Promise<number>;
  /** Rooms with at least one member, with their counts. */
  abstract occupied(): Promise<Map<string, number>>;
  /** Marks the device connected with this session (replacing an older session). */
  abstract connect(session: Session): Promise<void>;
  /** Marks the device gone, if this session is still its current one. */
  abstract disconnect(deviceId: string, sessionId: string): Promise<void>;
  /** The device's current session, if it is connected to a live node. */
  abstract session(deviceId: string): Promise<Session | undefined>;
  abstract sessionCount(): Promise<number>;
  /** Every connected device, with the rooms it is in. */
  abstract sessions(): Promise<Array<Session & { rooms: string[] }>>;
  /** Records the node alive for `ttlMs`; false when it was not (new, or presumed dead). */
  abstract heartbeat(info: NodeInfo, ttlMs: number): Promise<boolean>;
  abstract nodes(): Promise<NodeInfo[]>;
  /** Nodes that have entries but no live heartbeat. */
  abstract deadNodes(): Promise<string[]>;
  /** The node's entries as the store has them (what `evict` would remove). */
  abstract entries(nodeId: string): Promise<Eviction>;
  /**
   * Removes every entry of the node, atomically, unless it is alive again (`force`: its own
   * clean shutdown). Only one caller gets a non-empty result for the same entries.
   */
  abstract evict(nodeId: string, force?: boolean): Promise<Eviction>;
}

export class InMemoryPresenceStore extends PresenceStore {
  private readonly rooms = new Map<string, Map<string, Member>>();
  private readonly connected = new Map<string, Session>();
  private readonly nodeInfo = new Map<string, NodeInfo>();

  async add(roomId: string, member: Member, capacity: number): Promise<number | null> {
    let room = this.rooms.get(roomId);
    if (!room) this.rooms.set(roomId, (room = new Map()));
    if (capacity > 0 && !room.has(member.deviceId) && room.size >= capacity) return null;
    room.set(member.deviceId, member);
    return room.size;
  }

  async remove(roomId: string, deviceId: string, sessionId: string): Promise<boolean> {
    const room = this.rooms.get(roomId);
    if (room?.get(deviceId)?.sessionId !== sessionId) return false;
    room.delete(deviceId);
    if (room.size === 0) this.rooms.delete(roomId);
    return true;
  }

  async members(roomId: string): Promise<Member[]> {
    return [...(this.rooms.get(roomId)?.values() ?? [])];
  }

  async count(roomId: string): Promise<number> {
    return this.rooms.get(roomId)?.size ?? 0;
  }

  async occupied(): Promise<Map<string, number>> {
    return new Map([...this.rooms].map(([id, members]) => [id, members.size]));
  }

  async connect(session: Session): Promise<void> {
    this.connected.set(session.deviceId, session);
  }

  async disconnect(deviceId: string, sessionId: string): Promise<void> {
    if (this.connected.get(deviceId)?.sessionId === sessionId) this.connected.delete(deviceId);
  }

  async session(deviceId: string): Promise<Session | undefined> {
    return this.connected.get(deviceId);
  }

  async sessionCount(): Promise<number> {
    return this.connected.size;
  }

  async sessions(): Promise<Array<Session & { rooms: string[] }>> {
    const rooms = new Map<string, string[]>();
    for (const [roomId, members] of this.rooms)
      for (const deviceId of members.keys()) rooms.set(deviceId, [...(rooms.get(deviceId) ?? []), roomId]);
    return [...this.connected.values()].map((s) => ({ ...s, rooms: rooms.get(s.deviceId) ?? [] }));
  }

  async heartbeat(info: NodeInfo): Promise<boolean> {
    const known = this.nodeInfo.has(info.node_id);
    this.nodeInfo.set(info.node_id, info);
    return known;
  }

  async nodes(): Promise<NodeInfo[]> {
    return [...this.nodeInfo.values()];
  }

  /** One process: a node is never dead while its store exists. */
  async deadNodes(): Promise<string[]> {
    return [];
  }

  async entries(nodeId: string): Promise<Eviction> {
    const entries: Eviction = { left: [], sessions: [] };
    for (const [roomId, members] of this.rooms)
      for (const member of members.values())
        if (member.nodeId === nodeId) entries.left.push({ roomId, member });
    entries.sessions = [...this.connected.values()].filter((s) => s.nodeId === nodeId);
    return entries;
  }

  async evict(nodeId: string): Promise<Eviction> {
    const eviction: Eviction = { left: [], sessions: [] };
    for (const [roomId, members] of this.rooms) {
      for (const member of [...members.values()]) {
        if (member.nodeId !== nodeId) continue;
        members.delete(member.deviceId);
        eviction.left.push({ roomId, member });
      }
      if (members.size === 0) this.rooms.delete(roomId);
    }
    for (const session of [...this.connected.values()]) {
      if (session.nodeId !== nodeId) continue;
      this.connected.delete(session.deviceId);
      eviction.sessions.push(session);
    }
    this.nodeInfo.delete(nodeId);
    return eviction;
  }
}

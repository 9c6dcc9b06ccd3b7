export interface Member {
  deviceId: string;
  identity: string;
  sessionId: string;
  nodeId: string;
}

/**
 * Who is in which room. The in-memory store serves one process (embedded mode); a Redis
 * store for several nodes binds to the same port in the cluster issue.
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
  abstract connect(member: Member): Promise<void>;
  /** Marks the device gone, if this session is still its current one. */
  abstract disconnect(deviceId: string, sessionId: string): Promise<void>;
  /** The device's current session, if it is connected anywhere. */
  abstract session(deviceId: string): Promise<Member | undefined>;
}

export class InMemoryPresenceStore extends PresenceStore {
  private readonly rooms = new Map<string, Map<string, Member>>();
  private readonly sessions = new Map<string, Member>();

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

  async connect(member: Member): Promise<void> {
    this.sessions.set(member.deviceId, member);
  }

  async disconnect(deviceId: string, sessionId: string): Promise<void> {
    if (this.sessions.get(deviceId)?.sessionId === sessionId) this.sessions.delete(deviceId);
  }

  async session(deviceId: string): Promise<Member | undefined> {
    return this.sessions.get(deviceId);
  }
}

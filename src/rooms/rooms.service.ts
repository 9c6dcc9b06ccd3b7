import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { ErrorCode } from '#protocol';
import { LessThan, QueryFailedError, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { Lifecycle, type MembershipEvent } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { SingleFlight } from '../common/single-flight.js';
import { PresenceService } from '../presence/presence.service.js';
import { generateRoomId } from './room-id.js';
import { RoomMemberEntity } from './room-member.entity.js';
import { RoomEntity } from './room.entity.js';

export interface CreateRoom {
  roomId?: string;
  name?: string;
  maxClients?: number;
  /** A device id (it becomes the first member of a private room), or "admin". */
  createdBy?: string;
  isPrivate?: boolean;
}

/** Who may enter: `bypass` for principals allowed into every room (the `admin` permission). */
export interface Entrant {
  deviceId: string;
  bypass: boolean;
}

/** createdBy of rooms made through the admin API: not a device, never a member. */
export const ADMIN_CREATOR = 'admin';

export interface RoomSummary {
  room: RoomEntity;
  totalClients: number;
}

const MAX_ID_ATTEMPTS = 10;

/** Rooms as records: creation, lookup, capacity, deletion and reclaiming idle empty rooms. */
@Injectable()
export class RoomsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RoomsService.name);
  private sweeper?: NodeJS.Timeout;
  private stopping = false;
  /**
   * A room's members tend to arrive together (a new room filling up, a reconnect after a
   * restart): they share one lookup, and one insert instead of one each that all but one lose.
   */
  private readonly looking = new SingleFlight<RoomEntity | null>();
  private readonly creating = new SingleFlight<RoomEntity | null>();

  constructor(
    @InjectRepository(RoomEntity) private readonly rooms: Repository<RoomEntity>,
    @InjectRepository(RoomMemberEntity) private readonly members: Repository<RoomMemberEntity>,
    private readonly presence: PresenceService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.sweeper = setInterval(
      () => void this.reclaimIdle().catch((e: Error) => this.logger.error(e.message)),
      this.config.ROOM_SWEEP_INTERVAL_MS,
    );
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    this.stopping = true;
    clearInterval(this.sweeper);
  }

  get(roomId: string): Promise<RoomEntity | null> {
    return this.rooms.findOneBy({ roomId });
  }

  async getOrThrow(roomId: string): Promise<RoomEntity> {
    const room = await this.get(roomId);
    if (!room) throw RoomcastError.notFound(`room ${roomId} does not exist`);
    return room;
  }

  /** Creates a room. With an id that exists: CONFLICT. Without an id: a fresh one, retried on collision. */
  async create(spec: CreateRoom): Promise<RoomEntity> {
    if (spec.roomId) {
      const room = await this.insert(spec.roomId, spec);
      if (!room) throw new RoomcastError(ErrorCode.CONFLICT, `room ${spec.roomId} already exists`);
      return room;
    }
    for (let i = 0; i < MAX_ID_ATTEMPTS; i++) {
      const room = await this.insert(generateRoomId(), spec);
      if (room) return room;
    }
    throw new RoomcastError(ErrorCode.INTERNAL, 'could not find a free room id');
  }

  /**
   * The room with this id, created if it does not exist, when `mayCreate` (the client's
   * `create:room` permission); else FORBIDDEN for a room that does not exist.
   */
  async ensure(
    roomId: string,
    createdBy: string,
    mayCreate = true,
  ): Promise<{ room: RoomEntity; created: boolean }> {
    const existing = await this.looking.run(roomId, () => this.get(roomId)).outcome;
    if (existing) return { room: existing, created: false };
    if (!mayCreate)
      throw new RoomcastError(
        ErrorCode.FORBIDDEN,
        `room ${roomId} does not exist and the token does not grant create:room`,
      );
    const { outcome, first } = this.creating.run(roomId, () => this.insert(roomId, { createdBy }));
    const room = await outcome;
    // Lost a race with another node's creator: the room exists now, which is what we wanted.
    return room ? { room, created: first } : { room: await this.getOrThrow(roomId), created: false };
  }

  /**
   * FORBIDDEN unless the device may enter the room: any room that is not private; a private
   * one when it is on the member list (its creator, invited, or added by an operator).
   */
  async assertMayEnter(room: RoomEntity, who: Entrant): Promise<void> {
    if (!(await this.mayEnter(room, who)))
      throw new RoomcastError(
        ErrorCode.FORBIDDEN,
        `room ${room.roomId} is private and ${who.deviceId} is not a member`,
      );
  }

  async mayEnter(room: RoomEntity, who: Entrant): Promise<boolean> {
    if (!room.isPrivate || who.bypass) return true;
    return this.members.existsBy({ roomId: room.roomId, deviceId: who.deviceId });
  }

  /** The member list of a private room (empty for others), in the order they were added. */
  async memberList(roomId: string): Promise<RoomMemberEntity[]> {
    return this.members.find({ where: { roomId }, order: { addedAt: 'ASC', deviceId: 'ASC' } });
  }

  /** Puts the device on the room's member list; BAD_REQUEST for a room that is not private. */
  async addMember(room: RoomEntity, deviceId: string, addedBy: string): Promise<void> {
    if (!room.isPrivate)
      throw RoomcastError.badRequest(`room ${room.roomId} is not private: everyone may join`);
    await this.members.upsert({ roomId: room.roomId, deviceId, addedBy, addedAt: new Date() }, [
      'roomId',
      'deviceId',
    ]);
  }

  /** Takes the device off the list; it may not join again (a session in the room now stays until it leaves). */
  async removeMember(roomId: string, deviceId: string): Promise<void> {
    const result = await this.members.delete({ roomId, deviceId });
    if (!result.affected) throw RoomcastError.notFound(`${deviceId} is not a member of room ${roomId}`);
  }

  /** Clients the room admits: its own max_clients, else ROOM_MAX_CLIENTS; 0 means no limit. */
  capacity(room: RoomEntity): number {
    return room.maxClients || this.config.ROOM_MAX_CLIENTS;
  }

  async touch(roomId: string): Promise<void> {
    await this.rooms.update({ roomId }, { lastActiveAt: new Date() });
  }

  /** The idle time of a room counts from the moment its last member left. */
  @OnEvent(Lifecycle.Left, { async: true, promisify: true })
  async onLeft(event: MembershipEvent): Promise<void> {
    try {
      if ((await this.presence.count(event.roomId)) === 0) await this.touch(event.roomId);
    } catch (err) {
      // At shutdown the last leaves can arrive after the database closed; nothing is lost.
      if (!this.stopping) this.logger.warn(`room ${event.roomId} not marked idle: ${(err as Error).message}`);
    }
  }

  async list(): Promise<RoomSummary[]> {
    const [rooms, occupied] = await Promise.all([
      this.rooms.find({ order: { createdAt: 'ASC' } }),
      this.presence.occupied(),
    ]);
    return rooms.map((room) => ({ room, totalClients: occupied.get(room.roomId) ?? 0 }));
  }

  /** One page of rooms, oldest first, with their member counts, and how many rooms there are in all. */
  async page(limit: number, offset: number): Promise<{ rooms: RoomSummary[]; total: number }> {
    const [[rooms, total], occupied] = await Promise.all([
      this.rooms.findAndCount({ order: { createdAt: 'ASC', roomId: 'ASC' }, take: limit, skip: offset }),
      this.presence.occupied(),
    ]);
    return { rooms: rooms.map((room) => ({ room, totalClients: occupied.get(room.roomId) ?? 0 })), total };
  }

  async delete(roomId: string): Promise<void> {
    const result = await this.rooms.delete({ roomId });
    if (!result.affected) throw RoomcastError.notFound(`room ${roomId} does not exist`);
    await this.members.delete({ roomId });
  }

  /**
   * Deletes rooms with no members whose last activity is older than ROOM_IDLE_TTL_MS. Messages
   * stay. Private rooms are kept: their member lists are an operator's or their members' work.
   */
  async reclaimIdle(now = Date.now()): Promise<string[]> {
    const cutoff = new Date(now - this.config.ROOM_IDLE_TTL_MS);
    const [stale, occupied] = await Promise.all([
      this.rooms.find({
        where: { lastActiveAt: LessThan(cutoff), isPrivate: false },
        select: { roomId: true },
        take: 1000,
      }),
      this.presence.occupied(),
    ]);
    const idle = stale.map((r) => r.roomId).filter((id) => !occupied.has(id));
    if (idle.length) {
      // Re-check the cutoff in the statement: a room touched since the read is kept.
      await this.rooms
        .createQueryBuilder()
        .delete()
        .where('room_id IN (:...idle)', { idle })
        .andWhere('last_active_at < :cutoff', { cutoff })
        .execute();
      this.logger.log(`reclaimed ${idle.length} idle room(s)`);
    }
    return idle;
  }

  /** Inserts the room, or returns null when the id is taken. */
  private async insert(roomId: string, spec: CreateRoom): Promise<RoomEntity | null> {
    const now = new Date();
    const room = this.rooms.create({
      roomId,
      name: spec.name ?? null,
      maxClients: spec.maxClients ?? 0,
      createdBy: spec.createdBy ?? null,
      isPrivate: spec.isPrivate ?? false,
      createdAt: now,
      lastActiveAt: now,
    });
    try {
      await this.rooms.insert(room);
      if (room.isPrivate && spec.createdBy && spec.createdBy !== ADMIN_CREATOR)
        await this.addMember(room, spec.createdBy, spec.createdBy);
      return room;
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }
}

function isDuplicateKey(err: unknown): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const code = (err.driverError as { code?: string } | undefined)?.code;
  return (
    code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

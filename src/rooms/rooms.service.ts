import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { ErrorCode } from '#protocol';
import { LessThan, QueryFailedError, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { Lifecycle, type MembershipEvent } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { PresenceService } from '../presence/presence.service.js';
import { generateRoomId } from './room-id.js';
import { RoomEntity } from './room.entity.js';

export interface CreateRoom {
  roomId?: string;
  name?: string;
  maxClients?: number;
  createdBy?: string;
}

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

  constructor(
    @InjectRepository(RoomEntity) private readonly rooms: Repository<RoomEntity>,
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
    const existing = await this.get(roomId);
    if (existing) return { room: existing, created: false };
    if (!mayCreate)
      throw new RoomcastError(
        ErrorCode.FORBIDDEN,
        `room ${roomId} does not exist and the token does not grant create:room`,
      );
    const room = await this.insert(roomId, { createdBy });
    // Lost a race with another creator: the room exists now, which is what we wanted.
    return room ? { room, created: true } : { room: await this.getOrThrow(roomId), created: false };
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
  }

  /** Deletes rooms with no members whose last activity is older than ROOM_IDLE_TTL_MS. Messages stay. */
  async reclaimIdle(now = Date.now()): Promise<string[]> {
    const cutoff = new Date(now - this.config.ROOM_IDLE_TTL_MS);
    const [stale, occupied] = await Promise.all([
      this.rooms.find({ where: { lastActiveAt: LessThan(cutoff) }, select: { roomId: true }, take: 1000 }),
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
      createdAt: now,
      lastActiveAt: now,
    });
    try {
      await this.rooms.insert(room);
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

import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import { Repository } from 'typeorm';
import { RedisKeys } from '../redis/redis.module.js';
import { MessageEntity } from './message.entity.js';

/**
 * Per-room message sequence: 1, 2, 3, ... with no gaps. MessagingService allocates and
 * enqueues one room's messages strictly one after another, so a failed enqueue can hand
 * its number back (`release`) before anyone else has taken the next.
 */
export abstract class SeqAllocator {
  abstract next(roomId: string): Promise<number>;
  /** The last allocated seq (0 for a room with no messages). */
  abstract current(roomId: string): Promise<number>;
  /** Returns `seq` if it is still the last one allocated. */
  abstract release(roomId: string, seq: number): Promise<void>;
}

@Injectable()
export class StoredSeqReader {
  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  async maxSeq(roomId: string): Promise<number> {
    const row = await this.messages
      .createQueryBuilder('m')
      .select('MAX(m.seq)', 'max')
      .where('m.room_id = :roomId', { roomId })
      .getRawOne<{ max: string | number | null }>();
    return Number(row?.max ?? 0);
  }
}

/** Embedded mode: counters in memory, each seeded once from the database. */
@Injectable()
export class LocalSeqAllocator extends SeqAllocator {
  private readonly counters = new Map<string, number>();
  /** One database read per room, shared by every caller that arrives while it runs. */
  private readonly seeding = new Map<string, Promise<void>>();

  constructor(private readonly stored: StoredSeqReader) {
    super();
  }

  async next(roomId: string): Promise<number> {
    await this.seed(roomId);
    // Synchronous from here: no other caller can take the same number.
    const seq = this.counters.get(roomId)! + 1;
    this.counters.set(roomId, seq);
    return seq;
  }

  async current(roomId: string): Promise<number> {
    await this.seed(roomId);
    return this.counters.get(roomId)!;
  }

  async release(roomId: string, seq: number): Promise<void> {
    if (this.counters.get(roomId) === seq) this.counters.set(roomId, seq - 1);
  }

  private async seed(roomId: string): Promise<void> {
    if (this.counters.has(roomId)) return;
    let pending = this.seeding.get(roomId);
    if (!pending) {
      pending = this.stored
        .maxSeq(roomId)
        .then((max) => void this.counters.set(roomId, max))
        .finally(() => this.seeding.delete(roomId));
      this.seeding.set(roomId, pending);
    }
    await pending;
  }
}

/**
 * Redis mode: INCR on one key per room, shared by every node. A missing key (new room, or
 * a Redis that lost its data) is seeded from the database first, inside the same script.
 */
@Injectable()
export class RedisSeqAllocator extends SeqAllocator {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly stored: StoredSeqReader,
  ) {
    super();
    redis.defineCommand('rcNextSeq', {
      numberOfKeys: 1,
      lua: `if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
            return redis.call('INCR', KEYS[1])`,
    });
    redis.defineCommand('rcReleaseSeq', {
      numberOfKeys: 1,
      lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DECR', KEYS[1]) end return -1`,
    });
  }

  async next(roomId: string): Promise<number> {
    const key = this.key(roomId);
    const seed = (await this.redis.exists(key)) ? 0 : await this.stored.maxSeq(roomId);
    return Number(await (this.redis as unknown as SeqCommands).rcNextSeq(key, seed));
  }

  async current(roomId: string): Promise<number> {
    const value = await this.redis.get(this.key(roomId));
    return value === null ? this.stored.maxSeq(roomId) : Number(value);
  }

  async release(roomId: string, seq: number): Promise<void> {
    await (this.redis as unknown as SeqCommands).rcReleaseSeq(this.key(roomId), seq);
  }

  private key(roomId: string): string {
    return this.keys.key('room', roomId, 'seq');
  }
}

interface SeqCommands {
  rcNextSeq(key: string, seed: number): Promise<number>;
  rcReleaseSeq(key: string, seq: number): Promise<number>;
}

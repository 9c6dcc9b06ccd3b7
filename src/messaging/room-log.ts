import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { MessagePayload } from '#protocol';
import { Redis } from 'ioredis';
import { Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { SingleFlight } from '../common/single-flight.js';
import { RedisKeys } from '../redis/redis.module.js';
import type { Announcement } from './idempotency.store.js';
import { MessageEntity } from './message.entity.js';

/** A room message before its place in the room is known. */
export type UnnumberedMessage = Omit<MessagePayload, 'seq'>;

export interface Appended {
  seq: number;
  /** Handle for `retract`. */
  entry: string;
}

/**
 * Each room's sequence and its most recent messages. `append` numbers a message and keeps
 * it in one atomic step, so a message acked but not yet written to the database can still
 * be replayed from here. MessagingService appends one room's messages strictly one after
 * another, so a failed enqueue can take its number back (`retract`) before anyone else on
 * this node has taken the next: seqs have no gaps. Across nodes another node may have taken
 * the next meanwhile; the entry is then still removed (never replayed, as it was never
 * acked) and its seq stays a hole, which a resume reports as `complete: false`.
 */
export abstract class RoomLog {
  /**
   * Numbers the message and keeps it. `sentAs` (device and client id of the send) is kept
   * beside it, out of the message, so that a repeat of a send whose node died can find it.
   * `announce`, the send's prepared ack with the seq to fill in, is written in the same step;
   * only the Redis idempotency store makes one, so only RedisRoomLog is given one.
   */
  abstract append(
    roomId: string,
    message: UnnumberedMessage,
    sentAs?: string,
    announce?: Announcement,
  ): Promise<Appended>;
  /** The kept message appended with `sentAs`, among the newest ROOM_LOG_SIZE. */
  abstract findSent(roomId: string, sentAs: string): Promise<MessagePayload | undefined>;
  /** Removes the entry, and takes its seq back if it is still the last; false when it was not. */
  abstract retract(roomId: string, appended: Appended): Promise<boolean>;
  /** The last seq given out (0 for a room with no messages). */
  abstract current(roomId: string): Promise<number>;
  /**
   * Kept messages with seq > afterSeq, oldest first. May start later than afterSeq + 1:
   * older messages are in the database.
   */
  abstract since(roomId: string, afterSeq: number): Promise<MessagePayload[]>;
}

@Injectable()
export class StoredSeqReader {
  /** One read per room at a time: a room's members reading its seq as they arrive together share it. */
  private readonly reading = new SingleFlight<number>();

  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  maxSeq(roomId: string): Promise<number> {
    return this.reading.run(roomId, async () => {
      const row = await this.messages
        .createQueryBuilder('m')
        .select('MAX(m.seq)', 'max')
        .where('m.room_id = :roomId', { roomId })
        .getRawOne<{ max: string | number | null }>();
      return Number(row?.max ?? 0);
    }).outcome;
  }
}

/**
 * Embedded mode: counters in memory, each seeded once from the database. No recent
 * messages are kept: a message is in SQLite before it is acked, so replays read it there.
 */
@Injectable()
export class LocalRoomLog extends RoomLog {
  private readonly counters = new Map<string, number>();
  /** One seeding per room: a second `set` after an append would give its number out again. */
  private readonly seeding = new SingleFlight<void>();

  constructor(private readonly stored: StoredSeqReader) {
    super();
  }

  async append(roomId: string): Promise<Appended> {
    await this.seed(roomId);
    // Synchronous from here: no other caller can take the same number.
    const seq = this.counters.get(roomId)! + 1;
    this.counters.set(roomId, seq);
    return { seq, entry: String(seq) };
  }

  async retract(roomId: string, { seq }: Appended): Promise<boolean> {
    if (this.counters.get(roomId) !== seq) return false;
    this.counters.set(roomId, seq - 1);
    return true;
  }

  async current(roomId: string): Promise<number> {
    await this.seed(roomId);
    return this.counters.get(roomId)!;
  }

  async since(): Promise<MessagePayload[]> {
    return [];
  }

  async findSent(): Promise<undefined> {
    // Nothing is kept: a message is numbered, written and acked within this one process.
    return undefined;
  }

  private async seed(roomId: string): Promise<void> {
    if (this.counters.has(roomId)) return;
    await this.seeding.run(
      roomId,
      async () => void this.counters.set(roomId, await this.stored.maxSeq(roomId)),
    ).outcome;
  }
}

/**
 * Redis mode: one counter and one capped stream per room, shared by every node. The counter
 * is seeded (when missing: a new room, or a Redis that lost its data) from the larger of the
 * database's and the stream's last seq, inside the same script that appends or reads it. The
 * scripts are first run without a seed and answer nil when they need one: a send into a room
 * that has a counter (nearly every send) then costs one round trip, not two. A counter seeded
 * by a read expires after ROOM_LOG_TTL_MS unless a message is numbered, so rooms where nobody
 * ever speaks do not keep a key for good.
 */
@Injectable()
export class RedisRoomLog extends RoomLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly stored: StoredSeqReader,
    private readonly config: AppConfig,
  ) {
    super();
    // Keys: the room's counter and stream, and the send's idempotency claim when it announces
    // (outside the room's slot: Redis Cluster, which Roomcast does not support, would refuse it).
    redis.defineCommand('rcAppend', {
      lua: `${SEEDED}
        if redis.call('EXISTS', KEYS[1]) == 0 then
          local seed = tonumber(ARGV[1])
          if seed < 0 then return false end
          redis.call('SET', KEYS[1], seeded(seed))
        end
        local seq = redis.call('INCR', KEYS[1])
        -- A counter that rcCurrent seeded expires; one that has numbered a message does not.
        redis.call('PERSIST', KEYS[1])
        local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'm', ARGV[2], 'c', ARGV[5])
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
        if KEYS[3] then redis.call('SET', KEYS[3], ARGV[6] .. seq .. ARGV[7], 'KEEPTTL', 'XX') end
        return {seq, id}`,
    });
    // Seeds a missing counter as rcAppend does, so that the handshakes into a room where nobody
    // has spoken yet (no counter) read Redis, not the database, after the first one.
    redis.defineCommand('rcCurrent', {
      numberOfKeys: 2,
      lua: `${SEEDED}
        local current = redis.call('GET', KEYS[1])
        if current then return tonumber(current) end
        local seed = tonumber(ARGV[1])
        if seed < 0 then return false end
        seed = seeded(seed)
        redis.call('SET', KEYS[1], seed, 'PX', ARGV[2])
        return seed`,
    });
    redis.defineCommand('rcRetract', {
      numberOfKeys: 2,
      lua: `
        redis.call('XDEL', KEYS[2], ARGV[2])
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('DECR', KEYS[1])
        return 1`,
    });
  }

  async append(
    roomId: string,
    message: UnnumberedMessage,
    sentAs = '',
    announce?: Announcement,
  ): Promise<Appended> {
    const keys = [...this.roomKeys(roomId), ...(announce ? [announce.key] : [])];
    const text = JSON.stringify(message);
    const announced = announce ? [announce.before, announce.after] : [];
    const run = (seed: number) =>
      (this.redis as unknown as LogCommands).rcAppend(
        keys.length,
        ...keys,
        seed,
        text,
        this.config.ROOM_LOG_SIZE,
        this.config.ROOM_LOG_TTL_MS,
        sentAs,
        ...announced,
      );
    const appended = await this.withSeed(roomId, run);
    return { seq: Number(appended[0]), entry: appended[1] };
  }

  async findSent(roomId: string, sentAs: string): Promise<MessagePayload | undefined> {
    const entries = await this.entries(roomId);
    const found = entries.find(([, fields]) => fields[5] === sentAs);
    return found && toMessage(found[1]);
  }

  async retract(roomId: string, appended: Appended): Promise<boolean> {
    const taken = await (this.redis as unknown as LogCommands).rcRetract(
      ...this.roomKeys(roomId),
      appended.seq,
      appended.entry,
    );
    return taken === 1;
  }

  async current(roomId: string): Promise<number> {
    const [seqKey, streamKey] = this.roomKeys(roomId);
    const run = (seed: number) =>
      (this.redis as unknown as LogCommands).rcCurrent(seqKey, streamKey, seed, this.config.ROOM_LOG_TTL_MS);
    return this.withSeed(roomId, run);
  }

  /**
   * Runs a script that seeds a missing counter: first without a seed (nearly always enough),
   * then, when it answers nil, with the database's last seq.
   */
  private async withSeed<R>(roomId: string, run: (seed: number) => Promise<R | null>): Promise<R> {
    const result = (await run(UNSEEDED)) ?? (await run(await this.stored.maxSeq(roomId)));
    if (result === null) throw new Error(`room ${roomId}: seq counter missing although a seed was given`);
    return result;
  }

  async since(roomId: string, afterSeq: number): Promise<MessagePayload[]> {
    const messages: MessagePayload[] = [];
    for (const [, fields] of await this.entries(roomId)) {
      if (Number(fields[1]) <= afterSeq) break;
      messages.push(toMessage(fields));
    }
    return messages.reverse();
  }

  /** Newest first: the stream holds at most ROOM_LOG_SIZE (approximately) entries. */
  private entries(roomId: string): Promise<Array<[id: string, fields: string[]]>> {
    return this.redis.xrevrange(this.roomKeys(roomId)[1], '+', '-', 'COUNT', this.config.ROOM_LOG_SIZE * 2);
  }

  /** Both under the room's hash tag, in one slot (only an announcing append reaches outside it). */
  private roomKeys(roomId: string): [seq: string, log: string] {
    return [this.keys.key('room', `{${roomId}}`, 'seq'), this.keys.key('room', `{${roomId}}`, 'log')];
  }
}

/** A stream entry's fields: `s` seq, `m` the message, `c` who sent it as what (may be absent). */
const toMessage = (fields: string[]): MessagePayload => ({
  ...(JSON.parse(fields[3]) as UnnumberedMessage),
  seq: Number(fields[1]),
});

/** The seed rcAppend and rcCurrent are given first: "answer nil if the counter is missing". */
const UNSEEDED = -1;

/**
 * Lua: a missing counter's value from the database's last seq (`seed`) and the stream's, the
 * larger: messages acked but not written yet are in the stream, and after Redis lost the
 * counter alone, the stream may be ahead of the database.
 */
const SEEDED = `
  local function seeded(seed)
    local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
    if last[1] then return math.max(seed, tonumber(last[1][2][2])) end
    return seed
  end`;

interface LogCommands {
  /** Keys: seq, stream and the claim to announce (optional); then seed, message, maxLen, ttlMs, sentAs and the announcement's before and after. */
  rcAppend(keyCount: number, ...keysAndArgs: Array<string | number>): Promise<[number, string] | null>;
  rcRetract(seqKey: string, streamKey: string, seq: number, entry: string): Promise<number>;
  rcCurrent(seqKey: string, streamKey: string, seed: number, ttlMs: number): Promise<number | null>;
}

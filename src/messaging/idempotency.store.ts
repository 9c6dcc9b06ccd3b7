import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { MessageSendAck } from '#protocol';
import { Redis } from 'ioredis';
import { type Driver, Repository } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { AppConfig } from '../config/app-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { MessageEntity } from './message.entity.js';

/**
 * `pending`: another attempt holds the claim. `holder` is the node it runs on (where claims
 * are shared between nodes); `prepared` the result it announced before making the request
 * durable, for a repeat to adopt should the holder die before `complete`.
 */
export type Claim =
  | { state: 'claimed' }
  | { state: 'done'; result: MessageSendAck }
  | { state: 'pending'; holder?: string; prepared?: MessageSendAck };

/**
 * `prepare` as a write that another script makes in its own step (the room log's append,
 * which is where the seq is known): if `key` still exists, set it to `before` + seq + `after`,
 * keeping its expiry.
 */
export interface Announcement {
  key: string;
  before: string;
  after: string;
}

/** A claim not completed within this time (its holder died) may be taken again. */
const CLAIM_TTL_MS = 30_000;
/** A pending claim's value: HELD + holder node, then PREPARED + holder, SEP, the announced result (JSON). */
const HELD = '!';
const PREPARED = '?';
const SEP = '\n';

/**
 * Remembers the result of a request by (device, client id) for IDEMPOTENCY_TTL_MS, so a
 * repeated send returns the first ack instead of storing and delivering the message again.
 * `claim` is atomic: of two concurrent identical requests one gets `claimed`, the other
 * `pending`.
 */
export abstract class IdempotencyStore {
  /** `holder`: this node, recorded in the claim. */
  abstract claim(deviceId: string, requestId: string, holder: string): Promise<Claim>;
  /**
   * Takes over a pending, unprepared claim of `from` (a node found dead) for `holder`;
   * false when the claim changed meanwhile (completed, prepared or taken by another).
   */
  abstract takeOver(deviceId: string, requestId: string, from: string, holder: string): Promise<boolean>;
  /**
   * Announces the result of a claimed request before the step that makes it durable, so that
   * if this process dies between that step and `complete`, another one can finish the claim
   * (see Claim). A no-op where claims do not outlive the process.
   */
  abstract prepare(
    deviceId: string,
    requestId: string,
    holder: string,
    result: MessageSendAck,
  ): Promise<void>;
  /**
   * `prepare` for a result whose seq the room log's append gives, as a write for that append
   * to make: one round trip fewer per room send. Undefined where there is nothing to write
   * (`prepare` is a no-op) or the store cannot hand its write over; `prepare` is then called.
   */
  announcement(
    _deviceId: string,
    _requestId: string,
    _holder: string,
    _result: Omit<MessageSendAck, 'seq'>,
  ): Announcement | undefined {
    return undefined;
  }
  abstract complete(deviceId: string, requestId: string, result: MessageSendAck): Promise<void>;
  /**
   * Completes a prepared claim with the result it announced: for an attempt that failed
   * without knowing whether its step had made the request durable, once that turns out to
   * be so. False when the claim is gone (it expired) or not prepared.
   */
  abstract confirm(deviceId: string, requestId: string): Promise<boolean>;
  /** Forgets a claim whose request failed, so the client can retry it. */
  abstract release(deviceId: string, requestId: string): Promise<void>;
}

@Injectable()
export class RedisIdempotencyStore extends IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async claim(deviceId: string, requestId: string, holder: string): Promise<Claim> {
    const key = this.key(deviceId, requestId);
    if (await this.redis.set(key, HELD + holder, 'PX', CLAIM_TTL_MS, 'NX')) return { state: 'claimed' };
    const value = await this.redis.get(key);
    if (value === null) return this.claim(deviceId, requestId, holder);
    if (value.startsWith(HELD)) return { state: 'pending', holder: value.slice(HELD.length) };
    if (value.startsWith(PREPARED)) {
      const sep = value.indexOf(SEP);
      return {
        state: 'pending',
        holder: value.slice(PREPARED.length, sep),
        prepared: JSON.parse(value.slice(sep + 1)) as MessageSendAck,
      };
    }
    return { state: 'done', result: JSON.parse(value) as MessageSendAck };
  }

  async takeOver(deviceId: string, requestId: string, from: string, holder: string): Promise<boolean> {
    const taken = await this.redis.eval(
      `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
       redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
       return 1`,
      1,
      this.key(deviceId, requestId),
      HELD + from,
      HELD + holder,
      CLAIM_TTL_MS,
    );
    return taken === 1;
  }

  async prepare(deviceId: string, requestId: string, holder: string, result: MessageSendAck): Promise<void> {
    // KEEPTTL: a claim whose holder dies still expires CLAIM_TTL_MS after it was taken.
    await this.redis.set(
      this.key(deviceId, requestId),
      PREPARED + holder + SEP + JSON.stringify(result),
      'KEEPTTL',
      'XX',
    );
  }

  override announcement(
    deviceId: string,
    requestId: string,
    holder: string,
    { message_id, ts }: Omit<MessageSendAck, 'seq'>,
  ): Announcement {
    // The value `prepare` writes for { message_id, seq, ts }, in that key order (the ack's).
    return {
      key: this.key(deviceId, requestId),
      before: `${PREPARED}${holder}${SEP}{"message_id":${JSON.stringify(message_id)},"seq":`,
      after: `,"ts":${ts}}`,
    };
  }

  async complete(deviceId: string, requestId: string, result: MessageSendAck): Promise<void> {
    await this.redis.set(
      this.key(deviceId, requestId),
      JSON.stringify(result),
      'PX',
      this.config.IDEMPOTENCY_TTL_MS,
    );
  }

  async confirm(deviceId: string, requestId: string): Promise<boolean> {
    const confirmed = await this.redis.eval(
      `local value = redis.call('GET', KEYS[1])
       if not value or string.sub(value, 1, 1) ~= ARGV[1] then return 0 end
       local sep = string.find(value, ARGV[2], 1, true)
       redis.call('SET', KEYS[1], string.sub(value, sep + 1), 'PX', ARGV[3])
       return 1`,
      1,
      this.key(deviceId, requestId),
      PREPARED,
      SEP,
      this.config.IDEMPOTENCY_TTL_MS,
    );
    return confirmed === 1;
  }

  async release(deviceId: string, requestId: string): Promise<void> {
    await this.redis.del(this.key(deviceId, requestId));
  }

  private key(deviceId: string, requestId: string): string {
    return this.keys.key('idem', deviceId, requestId);
  }
}

/**
 * Without Redis (embedded mode): a send's message row is its record. The row carries the
 * client id and is written before the ack, so a repeat after the ack finds it, whatever
 * happened in between (a crash, a restart), and a send costs no write of its own here. The
 * claims of sends in progress live in memory, which is enough with a single process.
 */
@Injectable()
export class MessageRowIdempotencyStore extends IdempotencyStore {
  private readonly pending = new Set<string>();
  private readonly lookup: string;
  private readonly sentAt: ColumnMetadata;
  private readonly driver: Driver;

  constructor(
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
    private readonly config: AppConfig,
  ) {
    super();
    const { metadata } = messages;
    this.driver = messages.manager.dataSource.driver;
    const column = (property: keyof MessageEntity) => metadata.findColumnWithPropertyName(property)!;
    const name = (property: keyof MessageEntity) => this.driver.escape(column(property).databaseName);
    this.sentAt = column('sentAt');
    // Raw SQL, built once: it runs for every send, and the query builder costs more than the query.
    this.lookup =
      `SELECT ${name('messageId')} AS id, ${name('seq')} AS seq, ${name('sentAt')} AS sent_at ` +
      `FROM ${this.driver.escape(metadata.tableName)} WHERE ${name('fromDeviceId')} = ? AND ${name('clientMsgId')} = ? ` +
      `ORDER BY ${name('id')} DESC LIMIT 1`;
  }

  async claim(deviceId: string, requestId: string): Promise<Claim> {
    const id = claimId(deviceId, requestId);
    if (this.pending.has(id)) return { state: 'pending' };
    this.pending.add(id);
    try {
      const [row] = (await this.messages.query(this.lookup, [deviceId, requestId])) as StoredSend[];
      const sentAt = row && (this.driver.prepareHydratedValue(row.sent_at, this.sentAt) as Date);
      if (!row || sentAt.getTime() + this.config.IDEMPOTENCY_TTL_MS <= Date.now())
        return { state: 'claimed' };
      this.pending.delete(id);
      return {
        state: 'done',
        result: {
          message_id: row.id,
          ...(row.seq !== null ? { seq: Number(row.seq) } : {}),
          ts: sentAt.getTime(),
        },
      };
    } catch (err) {
      this.pending.delete(id);
      throw err;
    }
  }

  async prepare(): Promise<void> {
    // Claims live in this process's memory: none outlives a crash for another to finish.
  }

  async takeOver(): Promise<boolean> {
    return false; // every claim is this process's own
  }

  complete(deviceId: string, requestId: string): Promise<void> {
    // The message row, written before the ack, is the record: only the claim is left to forget.
    return this.release(deviceId, requestId);
  }

  async confirm(deviceId: string, requestId: string): Promise<boolean> {
    await this.release(deviceId, requestId);
    return true;
  }

  async release(deviceId: string, requestId: string): Promise<void> {
    this.pending.delete(claimId(deviceId, requestId));
  }
}

const claimId = (deviceId: string, requestId: string) => `${deviceId}\u0000${requestId}`;

interface StoredSend {
  id: string;
  seq: number | string | null;
  sent_at: unknown;
}

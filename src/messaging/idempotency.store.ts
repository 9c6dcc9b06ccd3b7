import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import { LessThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { IdempotencyKeyEntity } from './idempotency-key.entity.js';

/**
 * `pending`: another attempt holds the claim. `holder` is the node it runs on (where claims
 * are shared between nodes); `prepared` the result it announced before making the request
 * durable, for a repeat to adopt should the holder die before `complete`.
 */
export type Claim<T> =
  { state: 'claimed' } | { state: 'done'; result: T } | { state: 'pending'; holder?: string; prepared?: T };

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
  abstract claim<T>(deviceId: string, requestId: string, holder: string): Promise<Claim<T>>;
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
  abstract prepare<T>(deviceId: string, requestId: string, holder: string, result: T): Promise<void>;
  abstract complete<T>(deviceId: string, requestId: string, result: T): Promise<void>;
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

  async claim<T>(deviceId: string, requestId: string, holder: string): Promise<Claim<T>> {
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
        prepared: JSON.parse(value.slice(sep + 1)) as T,
      };
    }
    return { state: 'done', result: JSON.parse(value) as T };
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

  async prepare<T>(deviceId: string, requestId: string, holder: string, result: T): Promise<void> {
    // KEEPTTL: a claim whose holder dies still expires CLAIM_TTL_MS after it was taken.
    await this.redis.set(
      this.key(deviceId, requestId),
      PREPARED + holder + SEP + JSON.stringify(result),
      'KEEPTTL',
      'XX',
    );
  }

  async complete<T>(deviceId: string, requestId: string, result: T): Promise<void> {
    await this.redis.set(
      this.key(deviceId, requestId),
      JSON.stringify(result),
      'PX',
      this.config.IDEMPOTENCY_TTL_MS,
    );
  }

  async release(deviceId: string, requestId: string): Promise<void> {
    await this.redis.del(this.key(deviceId, requestId));
  }

  private key(deviceId: string, requestId: string): string {
    return this.keys.key('idem', deviceId, requestId);
  }
}

/**
 * Embedded mode: results in the database (they outlive a restart, as the messages do);
 * claims in memory, which is enough with a single process.
 */
@Injectable()
export class SqlIdempotencyStore extends IdempotencyStore {
  private readonly pending = new Set<string>();
  private lastPurge = 0;

  constructor(
    @InjectRepository(IdempotencyKeyEntity) private readonly keys: Repository<IdempotencyKeyEntity>,
    private readonly config: AppConfig,
  ) {
    super();
  }

  async claim<T>(deviceId: string, requestId: string): Promise<Claim<T>> {
    const id = `${deviceId}\u0000${requestId}`;
    if (this.pending.has(id)) return { state: 'pending' };
    this.pending.add(id);
    const row = await this.keys.findOneBy({ deviceId, requestId });
    if (row && row.expiresAt.getTime() > Date.now()) {
      this.pending.delete(id);
      return { state: 'done', result: JSON.parse(row.result) as T };
    }
    return { state: 'claimed' };
  }

  async prepare(): Promise<void> {
    // Claims live in this process's memory: none outlives a crash for another to finish.
  }

  async takeOver(): Promise<boolean> {
    return false; // every claim is this process's own
  }

  async complete<T>(deviceId: string, requestId: string, result: T): Promise<void> {
    const expiresAt = new Date(Date.now() + this.config.IDEMPOTENCY_TTL_MS);
    try {
      await this.keys.upsert({ deviceId, requestId, result: JSON.stringify(result), expiresAt }, [
        'deviceId',
        'requestId',
      ]);
    } finally {
      this.pending.delete(`${deviceId}\u0000${requestId}`);
    }
    await this.purgeExpired();
  }

  async release(deviceId: string, requestId: string): Promise<void> {
    this.pending.delete(`${deviceId}\u0000${requestId}`);
  }

  private async purgeExpired(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPurge < 60_000) return;
    this.lastPurge = now;
    await this.keys.delete({ expiresAt: LessThan(new Date(now)) });
  }
}

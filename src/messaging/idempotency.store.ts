import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import { LessThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { RedisKeys } from '../redis/redis.module.js';
import { IdempotencyKeyEntity } from './idempotency-key.entity.js';

export type Claim<T> = { state: 'claimed' } | { state: 'done'; result: T } | { state: 'pending' };

/** A claim not completed within this time (its holder died) may be taken again. */
const CLAIM_TTL_MS = 30_000;

/**
 * Remembers the result of a request by (device, client id) for IDEMPOTENCY_TTL_MS, so a
 * repeated send returns the first ack instead of storing and delivering the message again.
 * `claim` is atomic: of two concurrent identical requests one gets `claimed`, the other
 * `pending`.
 */
export abstract class IdempotencyStore {
  abstract claim<T>(deviceId: string, requestId: string): Promise<Claim<T>>;
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

  async claim<T>(deviceId: string, requestId: string): Promise<Claim<T>> {
    const key = this.key(deviceId, requestId);
    if (await this.redis.set(key, '', 'PX', CLAIM_TTL_MS, 'NX')) return { state: 'claimed' };
    const value = await this.redis.get(key);
    if (value === null) return this.claim(deviceId, requestId);
    return value === '' ? { state: 'pending' } : { state: 'done', result: JSON.parse(value) as T };
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

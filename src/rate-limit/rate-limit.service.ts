import { Injectable } from '@nestjs/common';
import { ErrorCode } from '#protocol';
import { Counter, Registry } from 'prom-client';
import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { RoomcastError } from '../common/roomcast-error.js';
import { AppConfig } from '../config/app-config.js';
import { LimiterStore } from './limiter-store.js';

/**
 * What a limit counts, and per what: `send` (message.send and relayed frames) and `request`
 * (every other request) per device, `room` per room, `connect` and `admin` per client IP.
 */
export type RateBucket = 'send' | 'request' | 'room' | 'connect' | 'admin';

type Limiter = Pick<RateLimiterAbstract, 'consume'>;

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * The server's rate limits, one per bucket, each configurable and off at 0. A refusal is a
 * RATE_LIMITED RoomcastError carrying how long to wait, counted in
 * `roomcast_rate_limited_total{bucket}`. Also counts each connection's refusals, so the
 * gateway can close one that keeps hammering (`strike`).
 */
@Injectable()
export class RateLimitService {
  private readonly limiters = new Map<RateBucket, Limiter>();
  /** Per connection: refusals are local to the node holding the socket. */
  private readonly strikes?: RateLimiterMemory;
  private readonly limited: Counter<'bucket'>;

  constructor(config: AppConfig, store: LimiterStore, registry: Registry) {
    const burstWindow = seconds(config.RATE_BURST_WINDOW_MS);
    const perSecond = (name: RateBucket, rate: number, burst = 0) => {
      if (rate <= 0) return;
      const steady = store.create(name, rate, 1);
      this.limiters.set(
        name,
        burst > 0 ? new BurstyRateLimiter(steady, store.create(`${name}.burst`, burst, burstWindow)) : steady,
      );
    };
    perSecond('send', config.RATE_SEND_PER_SEC, config.RATE_SEND_BURST);
    perSecond('request', config.RATE_REQUESTS_PER_SEC, config.RATE_REQUESTS_BURST);
    perSecond('room', config.RATE_ROOM_MSGS_PER_SEC);
    perSecond('connect', config.RATE_CONNECT_PER_SEC);
    perSecond('admin', config.RATE_ADMIN_PER_SEC);
    if (config.RATE_ABUSE_STRIKES > 0) {
      this.strikes = new RateLimiterMemory({
        keyPrefix: 'strikes',
        points: config.RATE_ABUSE_STRIKES,
        duration: seconds(config.RATE_ABUSE_WINDOW_MS),
      });
    }
    this.limited = new Counter({
      name: 'roomcast_rate_limited_total',
      help: 'Requests, frames, connections and admin calls refused by a rate limit, by bucket',
      labelNames: ['bucket'],
      registers: [registry],
    });
  }

  /** Takes one unit of `key`'s allowance in `bucket`; throws RATE_LIMITED when none is left. */
  async consume(bucket: RateBucket, key: string): Promise<void> {
    const limiter = this.limiters.get(bucket);
    if (!limiter) return;
    try {
      await limiter.consume(key);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      this.limited.inc({ bucket });
      throw new RoomcastError(
        ErrorCode.RATE_LIMITED,
        `rate limit exceeded (${bucket}); retry later`,
        Math.max(1, Math.ceil(err.msBeforeNext)),
      );
    }
  }

  /** Records one refusal for `key` (a connection); true once it has had too many within the window. */
  async strike(key: string): Promise<boolean> {
    if (!this.strikes) return false;
    try {
      await this.strikes.consume(key);
      return false;
    } catch (err) {
      if (err instanceof RateLimiterRes) return true;
      throw err;
    }
  }
}

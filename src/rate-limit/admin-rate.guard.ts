import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { RateLimitService } from './rate-limit.service.js';

/**
 * The admin API's rate limit, per client IP (`req.ip`, which honours TRUST_PROXY), checked
 * before the token so guessing tokens is limited too. A refusal is a RATE_LIMITED error:
 * the error filter answers 429 with `Retry-After`.
 */
@Injectable()
export class AdminRateGuard implements CanActivate {
  constructor(private readonly limits: RateLimitService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.check(context.switchToHttp().getRequest<Request>());
    return true;
  }

  /** Counts the request; throws RATE_LIMITED over the limit. Also used by the queue dashboard. */
  async check(req: Request): Promise<void> {
    await this.limits.consume('admin', req.ip ?? req.socket.remoteAddress ?? 'unknown');
  }
}

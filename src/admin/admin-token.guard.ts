import { createHash, timingSafeEqual } from 'node:crypto';
import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { AppConfig } from '../config/app-config.js';
import { AdminRateGuard } from '../rate-limit/admin-rate.guard.js';
import { ErrorResponseDto } from './dto/error.dto.js';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** The token of an `Authorization: Bearer <token>` header, if it is one. */
export const bearerToken = (header: string): string | undefined =>
  /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1];

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`. Both sides are hashed first, so timingSafeEqual
 * compares equal lengths and the time taken says nothing about the token, not even its length.
 * Without ADMIN_TOKEN the admin API is off: every call gets 403.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(config: AppConfig) {
    if (config.ADMIN_TOKEN) this.expected = digest(config.ADMIN_TOKEN);
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    this.verify(bearerToken(header), 'missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>');
    return true;
  }

  /**
   * 403 while the admin API is off, 401 for a missing token (`missing` tells how to send one)
   * or a wrong one. Also guards the queue dashboard, which reads the token from more places.
   */
  verify(token: string | undefined, missing: string): void {
    if (!this.expected)
      throw new ForbiddenException('the admin API is disabled: set ADMIN_TOKEN to enable it');
    if (token === undefined) throw new UnauthorizedException(missing);
    if (!timingSafeEqual(digest(token), this.expected))
      throw new UnauthorizedException('invalid admin token');
  }
}

/** Marks a controller as part of the admin API: the token guard, its tag and its documented refusals. */
export function AdminApi(tag: string): ClassDecorator {
  return applyDecorators(
    ApiTags(tag),
    ApiBearerAuth('admin'),
    ApiUnauthorizedResponse({ description: 'Missing or invalid admin token', type: ErrorResponseDto }),
    ApiForbiddenResponse({
      description: 'The admin API is disabled (ADMIN_TOKEN is not set)',
      type: ErrorResponseDto,
    }),
    ApiTooManyRequestsResponse({
      description: 'Too many calls from this address (RATE_ADMIN_PER_SEC); see Retry-After',
      type: ErrorResponseDto,
    }),
    // The rate limit first, so guessing tokens is limited too.
    UseGuards(AdminRateGuard, AdminTokenGuard),
  );
}

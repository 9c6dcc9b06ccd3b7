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
    if (!this.expected)
      throw new ForbiddenException('the admin API is disabled: set ADMIN_TOKEN to enable it');
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match)
      throw new UnauthorizedException('missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>');
    if (!timingSafeEqual(digest(match[1]), this.expected))
      throw new UnauthorizedException('invalid admin token');
    return true;
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

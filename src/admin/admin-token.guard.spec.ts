import { ForbiddenException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { AppConfig } from '../config/app-config.js';
import { AdminTokenGuard } from './admin-token.guard.js';

const context = (authorization?: string) =>
  ({
    switchToHttp: () => ({
      getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }),
    }),
  }) as unknown as ExecutionContext;

const guard = (token?: string) => new AdminTokenGuard(Object.assign(new AppConfig(), { ADMIN_TOKEN: token }));

describe('AdminTokenGuard', () => {
  it('lets the right token through', () => {
    expect(guard('s3cret-token').canActivate(context('Bearer s3cret-token'))).toBe(true);
    expect(guard('s3cret-token').canActivate(context('bearer  s3cret-token '))).toBe(true);
  });

  it.each([
    ['no header', undefined, /missing bearer token/],
    ['another scheme', 'Basic s3cret-token', /missing bearer token/],
    ['an empty bearer', 'Bearer ', /missing bearer token/],
    ['a wrong token', 'Bearer nope', /invalid admin token/],
    ['a longer token', 'Bearer s3cret-token-and-more', /invalid admin token/],
    ['a prefix of the token', 'Bearer s3cret', /invalid admin token/],
  ])('refuses %s with 401', (_, header, message) => {
    expect(() => guard('s3cret-token').canActivate(context(header))).toThrow(UnauthorizedException);
    expect(() => guard('s3cret-token').canActivate(context(header))).toThrow(message);
  });

  it('refuses everything with 403 when ADMIN_TOKEN is unset', () => {
    for (const header of [undefined, 'Bearer anything', 'Bearer ']) {
      expect(() => guard(undefined).canActivate(context(header))).toThrow(ForbiddenException);
      expect(() => guard(undefined).canActivate(context(header))).toThrow(/admin API is disabled/);
    }
  });
});

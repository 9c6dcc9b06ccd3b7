import { Injectable, UnauthorizedException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AdminTokenGuard, bearerToken } from '../admin/admin-token.guard.js';
import { AdminRateGuard } from '../rate-limit/admin-rate.guard.js';

/** The token as a bearer token, or as the password of HTTP Basic auth (any user name). */
export function dashboardToken(header: string): string | undefined {
  const bearer = bearerToken(header);
  if (bearer !== undefined) return bearer;
  const basic = /^Basic[ \t]+([A-Za-z0-9+/]+=*)[ \t]*$/i.exec(header);
  if (!basic) return undefined;
  const credentials = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon < 0 ? undefined : credentials.slice(colon + 1);
}

/**
 * The admin API's checks in front of every dashboard request (page, assets, its JSON API):
 * the per-address rate limit, then ADMIN_TOKEN. Basic auth is accepted because a browser
 * cannot send a bearer token when it opens a page; the 401 asks for it, so the browser
 * prompts for the token as a password.
 */
@Injectable()
export class QueueDashboardAuth {
  constructor(
    private readonly rate: AdminRateGuard,
    private readonly token: AdminTokenGuard,
  ) {}

  readonly middleware = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    await this.rate.check(req);
    try {
      this.token.verify(
        dashboardToken(req.headers.authorization ?? ''),
        'missing credentials: send Authorization: Bearer <ADMIN_TOKEN>, or Basic auth with ADMIN_TOKEN as the password',
      );
    } catch (err) {
      if (err instanceof UnauthorizedException) res.setHeader('WWW-Authenticate', 'Basic realm="Roomcast"');
      throw err;
    }
    next();
  };
}

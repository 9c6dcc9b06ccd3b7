import { Injectable } from '@nestjs/common';
import { CloseCode } from '#protocol';
import { AppConfig } from '../config/app-config.js';
import type { Connection } from './connection.js';

/** setTimeout's longest delay; a later expiry is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Ends connections whose token expires: a `system` `token_expiring` event JWT_EXPIRY_WARNING_MS
 * before `exp` (at once when less is left), then close 4401 at `exp`, unless `auth.refresh`
 * brought a token that expires later (which calls `watch` again).
 */
@Injectable()
export class TokenExpiry {
  private readonly timers = new Map<Connection, NodeJS.Timeout[]>();

  constructor(private readonly config: AppConfig) {}

  /** (Re)starts the connection's warning and close timers from its principal's expiry. */
  watch(conn: Connection): void {
    this.forget(conn);
    const expiresAt = conn.principal?.expiresAt;
    if (expiresAt === undefined || conn.detached) return;
    const warnAt = expiresAt - this.config.JWT_EXPIRY_WARNING_MS;
    if (expiresAt - Date.now() > MAX_TIMER_MS) {
      // Beyond one timer's reach: look again later (no later than the warning).
      this.timers.set(conn, [this.at(Math.min(warnAt, Date.now() + MAX_TIMER_MS), () => this.watch(conn))]);
      return;
    }
    this.timers.set(conn, [
      this.at(warnAt, () =>
        conn.event('system', { kind: 'token_expiring', payload: { expires_at: expiresAt }, ts: Date.now() }),
      ),
      this.at(expiresAt, () => {
        this.forget(conn);
        conn.close(CloseCode.UNAUTHORIZED, 'token expired');
      }),
    ]);
  }

  forget(conn: Connection): void {
    for (const timer of this.timers.get(conn) ?? []) clearTimeout(timer);
    this.timers.delete(conn);
  }

  private at(when: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(fn, Math.max(0, when - Date.now()));
    timer.unref();
    return timer;
  }
}

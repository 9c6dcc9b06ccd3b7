import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import type { Connection } from './connection.js';
import { TokenExpiry } from './token-expiry.js';

function fakeConn(expiresAt?: number) {
  return {
    detached: false,
    principal: { subject: 'u', anonymous: false, permissions: [], expiresAt },
    event: vi.fn(),
    close: vi.fn(),
  };
}

describe('TokenExpiry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const expiry = new TokenExpiry(loadConfig({ JWT_EXPIRY_WARNING_MS: '1000' }));

  it('warns JWT_EXPIRY_WARNING_MS before exp, then closes with 4401', () => {
    const exp = Date.now() + 5000;
    const conn = fakeConn(exp);
    expiry.watch(conn as unknown as Connection);
    vi.advanceTimersByTime(3999);
    expect(conn.event).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(conn.event).toHaveBeenCalledWith('system', {
      kind: 'token_expiring',
      payload: { expires_at: exp },
      ts: expect.any(Number),
    });
    expect(conn.close).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(conn.close).toHaveBeenCalledWith(4401, 'token expired');
  });

  it('restarts from a refreshed expiry, and stops for a token without exp or a closed connection', () => {
    const conn = fakeConn(Date.now() + 2000);
    expiry.watch(conn as unknown as Connection);
    conn.principal.expiresAt = Date.now() + 10_000;
    expiry.watch(conn as unknown as Connection);
    vi.advanceTimersByTime(5000);
    expect(conn.event).not.toHaveBeenCalled();
    expect(conn.close).not.toHaveBeenCalled();
    conn.principal.expiresAt = undefined;
    expiry.watch(conn as unknown as Connection);
    conn.principal.expiresAt = Date.now() + 100;
    const other = fakeConn(Date.now() + 100);
    expiry.watch(other as unknown as Connection);
    expiry.forget(other as unknown as Connection);
    vi.advanceTimersByTime(60_000);
    expect(conn.close).not.toHaveBeenCalled();
    expect(other.close).not.toHaveBeenCalled();
  });

  it('reaches an expiry beyond one timer (~24.8 days) in steps', () => {
    const exp = Date.now() + 30 * 24 * 3600 * 1000;
    const conn = fakeConn(exp);
    expiry.watch(conn as unknown as Connection);
    vi.advanceTimersByTime(exp - Date.now() - 1000);
    expect(conn.event).toHaveBeenCalledTimes(1);
    expect(conn.close).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(conn.close).toHaveBeenCalledTimes(1);
  });
});

import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientIpOf, redactUrl, upgradeToken } from './upgrade.js';

const request = (url: string, headers: Record<string, string> = {}, remoteAddress = '10.0.0.9') =>
  ({ url, headers, socket: { remoteAddress } }) as unknown as IncomingMessage;

describe('upgrade helpers', () => {
  it('reads the token from a Bearer header before the query string', () => {
    expect(upgradeToken(request('/ws', { authorization: 'Bearer a.b.c' }))).toBe('a.b.c');
    expect(upgradeToken(request('/ws', { authorization: 'bearer  a.b.c ' }))).toBe('a.b.c');
    expect(upgradeToken(request('/ws?x=1&token=q.r.s'))).toBe('q.r.s');
    expect(upgradeToken(request('/ws?token=q.r.s', { authorization: 'Bearer a.b.c' }))).toBe('a.b.c');
    expect(upgradeToken(request('/ws?token=q.r.s', { authorization: 'Basic eDp5' }))).toBe('q.r.s');
    expect(upgradeToken(request('/ws?token='))).toBeUndefined();
    expect(upgradeToken(request('/ws'))).toBeUndefined();
  });

  it('redacts the token query parameter, wherever it stands', () => {
    expect(redactUrl('/ws?token=a.b.c')).toBe('/ws?token=[redacted]');
    expect(redactUrl('/ws?x=1&TOKEN=a.b.c&y=2')).toBe('/ws?x=1&TOKEN=[redacted]&y=2');
    expect(redactUrl('/ws?mytoken=keep')).toBe('/ws?mytoken=keep');
    expect(redactUrl(undefined)).toBe('');
  });

  it('takes the first X-Forwarded-For hop only behind a trusted proxy', () => {
    const req = request('/ws', { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' });
    expect(clientIpOf(req, true)).toBe('203.0.113.7');
    expect(clientIpOf(req, false)).toBe('10.0.0.9');
  });
});

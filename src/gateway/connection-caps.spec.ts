import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import type { Connection } from './connection.js';
import { ConnectionCaps } from './connection-caps.js';
import { ConnectionRegistry } from './connection-registry.js';

const request = (headers: Record<string, string> = {}, remoteAddress = '10.0.0.9') =>
  ({ url: '/ws', headers, socket: { remoteAddress } }) as unknown as IncomingMessage;
const conn = (clientIp = '10.0.0.9', subject?: string) =>
  ({
    clientIp,
    principal: subject ? { subject, anonymous: false, permissions: [] } : undefined,
  }) as Connection;
const principal = (subject: string, anonymous = false) => ({ subject, anonymous, permissions: [] });

describe('ConnectionCaps', () => {
  it('refuses browser origins not listed, and lets clients without Origin through', () => {
    const caps = new ConnectionCaps(
      loadConfig({ ALLOWED_ORIGINS: 'https://a.test' }),
      new ConnectionRegistry(loadConfig({})),
    );
    expect(caps.refuseUpgrade(request({ origin: 'https://a.test' }))).toBeUndefined();
    expect(caps.refuseUpgrade(request())).toBeUndefined();
    expect(caps.refuseUpgrade(request({ origin: 'https://A.test' }))).toEqual({
      status: 403,
      message: 'origin not allowed',
    });
    const open = new ConnectionCaps(loadConfig({}), new ConnectionRegistry(loadConfig({})));
    expect(open.refuseUpgrade(request({ origin: 'https://anything.test' }))).toBeUndefined();
  });

  it('counts open sockets per address', () => {
    const caps = new ConnectionCaps(
      loadConfig({ MAX_CONNECTIONS_PER_IP: '2' }),
      new ConnectionRegistry(loadConfig({})),
    );
    const [a, b] = [conn(), conn()];
    caps.opened(a);
    caps.opened(b);
    caps.opened(conn('10.0.0.10'));
    expect(caps.refuseUpgrade(request())).toMatchObject({ status: 429 });
    expect(caps.refuseUpgrade(request({}, '10.0.0.10'))).toBeUndefined();
    caps.closed(a);
    expect(caps.refuseUpgrade(request())).toBeUndefined();
  });

  it('caps connections per subject, not counting the device connection being replaced', () => {
    const registry = new ConnectionRegistry(loadConfig({}));
    const caps = new ConnectionCaps(loadConfig({ MAX_CONNECTIONS_PER_SUBJECT: '1' }), registry);
    const first = Object.assign(conn('10.0.0.9', 'u'), { deviceId: 'd1', rooms: new Set<string>() });
    expect(caps.admitSubject(first, principal('u'), 'd1')).toBe(true);
    registry.register(first);
    expect(caps.admitSubject(conn(), principal('u'), 'd2')).toBe(false);
    expect(caps.admitSubject(conn(), principal('u'), 'd1')).toBe(true);
    expect(caps.admitSubject(conn(), principal('other'), 'd3')).toBe(true);
    expect(caps.admitSubject(conn(), principal('d4', true), 'd4')).toBe(true);
    caps.closed(first);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.js';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.DATABASE_URL).toBe('sqlite:./data/roomcast.sqlite');
    expect(c.embedded).toBe(true);
    expect(c.authAnonymous).toBe(true);
    expect(c.HEARTBEAT_MS).toBe(30000);
    expect(c.MAX_PAYLOAD_BYTES).toBe(65536);
    expect(c.FRAME_MAX_DEPTH).toBe(64);
  });

  it('converts numbers and booleans from strings', () => {
    const c = loadConfig({ PORT: '9000', TRUST_PROXY: 'true', REDIS_URL: 'redis://127.0.0.1:6379/0' });
    expect(c.PORT).toBe(9000);
    expect(c.TRUST_PROXY).toBe(true);
    expect(c.embedded).toBe(false);
  });

  it('names the bad key', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow(ConfigError);
    expect(() => loadConfig({ FRAME_MAX_DEPTH: '3' })).toThrow(/FRAME_MAX_DEPTH/);
  });

  it('turns anonymous access off by default once a JWT key is set', () => {
    expect(loadConfig({ JWT_SECRET: 'a-long-enough-secret' }).authAnonymous).toBe(false);
    expect(loadConfig({ JWT_SECRET: 'a-long-enough-secret', AUTH_ANONYMOUS: 'true' }).authAnonymous).toBe(
      true,
    );
  });

  it('lets the message writer wait for more rows only where the ack does not wait for it', () => {
    const redis = { REDIS_URL: 'redis://127.0.0.1:6379/0' };
    expect(loadConfig({}).messageBatchWaitMs).toBe(0);
    expect(loadConfig(redis).messageBatchWaitMs).toBe(10);
    expect(loadConfig({ ...redis, MESSAGE_BATCH_WAIT_MS: '0' }).messageBatchWaitMs).toBe(0);
    expect(loadConfig({ MESSAGE_BATCH_WAIT_MS: '3' }).messageBatchWaitMs).toBe(3);
    expect(() => loadConfig({ MESSAGE_BATCH_WAIT_MS: '-1' })).toThrow(/MESSAGE_BATCH_WAIT_MS/);
  });

  it('takes one JWT key kind at most, and reads the origin allowlist', () => {
    expect(loadConfig({ JWT_JWKS_FILE: '/keys.json' }).authAnonymous).toBe(false);
    expect(() => loadConfig({ JWT_SECRET: 'a-long-enough-secret', JWT_JWKS_FILE: '/keys.json' })).toThrow(
      /JWT_SECRET, JWT_JWKS_FILE: set only one/,
    );
    expect(loadConfig({}).allowedOrigins).toBeUndefined();
    expect([
      ...loadConfig({ ALLOWED_ORIGINS: 'https://a.example, https://b.example,' }).allowedOrigins!,
    ]).toEqual(['https://a.example', 'https://b.example']);
  });

  it('refuses split roles without Redis', () => {
    expect(() => loadConfig({ ROLE: 'worker' })).toThrow(/ROLE/);
  });

  it('reads a YAML file under the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rc-config-'));
    const file = join(dir, 'roomcast.yaml');
    writeFileSync(file, 'port: 7000\nheartbeat_ms: 5000\n');
    const c = loadConfig({ CONFIG_FILE: file, PORT: '7100' });
    expect(c.PORT).toBe(7100);
    expect(c.HEARTBEAT_MS).toBe(5000);
    writeFileSync(file, 'no_such_key: 1\n');
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow(/no_such_key/);
  });
});

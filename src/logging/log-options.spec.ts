import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { pinoParams, REDACTED_PATHS, scrubUrl } from './log-options.js';

describe('log options', () => {
  it('scrubs token query parameters and leaves the rest of the URL', () => {
    expect(scrubUrl('/ws?token=abc.def&room=R1')).toBe('/ws?token=[redacted]&room=R1');
    expect(scrubUrl('/x?a=1&TOKEN=s3cret#frag')).toBe('/x?a=1&TOKEN=[redacted]#frag');
    expect(scrubUrl('/api/stats?tokens=1')).toBe('/api/stats?tokens=1');
    expect(scrubUrl(undefined)).toBeUndefined();
  });

  it('maps LOG_LEVEL to pino levels, and silences pino with LOG_FORMAT=text', () => {
    const level = (env: Record<string, string>) =>
      (pinoParams(loadConfig({ ...env })).pinoHttp as { level: string }).level;
    expect(level({ LOG_LEVEL: 'log' })).toBe('info');
    expect(level({ LOG_LEVEL: 'verbose' })).toBe('trace');
    expect(level({ LOG_LEVEL: 'warn' })).toBe('warn');
    expect(level({ LOG_LEVEL: 'debug', LOG_FORMAT: 'text' })).toBe('silent');
  });

  it('redacts credentials wherever they sit in a logged object', () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, out);
    logger.info({ token: 'a1', auth: { token: 'b2' }, config: { ADMIN_TOKEN: 'c3' } }, 'hello');
    const line = lines.join('');
    for (const secret of ['a1', 'b2', 'c3']) expect(line).not.toContain(`"${secret}"`);
    expect(line).toContain('hello');
  });
});

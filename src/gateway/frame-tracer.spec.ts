import { SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryTracerProvider } from '../../test/support/tracing.js';
import { AppConfig } from '../config/app-config.js';
import type { Connection } from './connection.js';
import { FrameTracer } from './frame-tracer.js';
import type { HandlerContext } from './handler-context.js';

const ctx = { connection: { sessionId: 's-1', deviceId: 'dev-1' } as Connection } as HandlerContext;
const tracer = (enabled: boolean) =>
  new FrameTracer(Object.assign(new AppConfig(), { OTEL_TRACING: enabled }));

describe('FrameTracer', () => {
  let provider: MemoryTracerProvider;
  beforeAll(() => {
    provider = new MemoryTracerProvider().install();
  });
  afterAll(() => provider.uninstall());
  beforeEach(() => {
    provider.spans.length = 0;
  });

  it('wraps the handler in a span roomcast.<type> with device, session and room', async () => {
    await expect(tracer(true).run('message.send', ctx, { room_id: 'R1' }, async () => 'done')).resolves.toBe(
      'done',
    );
    expect(provider.spans).toEqual([
      expect.objectContaining({
        name: 'roomcast.message.send',
        ended: true,
        attributes: { 'roomcast.session_id': 's-1', 'roomcast.device_id': 'dev-1', 'roomcast.room_id': 'R1' },
      }),
    ]);
  });

  it('marks the span as failed, and still ends it, when the handler throws', async () => {
    const failure = new Error('boom');
    await expect(tracer(true).run('ping', ctx, {}, () => Promise.reject(failure))).rejects.toBe(failure);
    expect(provider.spans).toHaveLength(1);
    expect(provider.spans[0]).toMatchObject({
      name: 'roomcast.ping',
      ended: true,
      status: { code: SpanStatusCode.ERROR, message: 'boom' },
      exceptions: [failure],
    });
    expect(provider.spans[0].attributes).not.toHaveProperty('roomcast.room_id');
  });

  it('creates no span when OTEL_TRACING is off', async () => {
    await expect(tracer(false).run('ping', ctx, {}, async () => 1)).resolves.toBe(1);
    expect(provider.spans).toEqual([]);
  });
});

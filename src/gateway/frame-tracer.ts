import { Injectable } from '@nestjs/common';
import { type Attributes, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { AppConfig } from '../config/app-config.js';
import type { HandlerContext } from './handler-context.js';

/**
 * OTEL_TRACING=true: each routed frame is handled inside a span `roomcast.<type>` (device,
 * session and room as attributes), a child of whatever span is active. The API alone records
 * nothing: the operator registers an SDK (@opentelemetry/sdk-node, loaded with --import).
 * Off: the handler runs as is, without even a no-op span.
 */
@Injectable()
export class FrameTracer {
  private readonly tracer?: Tracer;

  constructor(config: AppConfig) {
    // The global provider is a proxy: an SDK registered after this still receives the spans.
    if (config.OTEL_TRACING) this.tracer = trace.getTracer('roomcast');
  }

  run<T>(type: string, ctx: HandlerContext, data: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    if (!this.tracer) return fn();
    const attributes: Attributes = {
      'roomcast.session_id': ctx.connection.sessionId,
      'roomcast.device_id': ctx.connection.deviceId,
    };
    if (typeof data.room_id === 'string') attributes['roomcast.room_id'] = data.room_id;
    return this.tracer.startActiveSpan(
      `roomcast.${type}`,
      { kind: SpanKind.SERVER, attributes },
      async (span) => {
        try {
          return await fn();
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }
}

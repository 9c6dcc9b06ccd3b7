import {
  type Attributes,
  type Context,
  context as contextApi,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  trace,
  type Tracer,
  type TracerProvider,
  TraceFlags,
} from '@opentelemetry/api';

/** A span as the in-memory provider recorded it. */
export interface RecordedSpan {
  name: string;
  attributes: Attributes;
  status?: SpanStatus;
  exceptions: unknown[];
  ended: boolean;
}

/**
 * The smallest TracerProvider the OpenTelemetry API accepts, keeping every span in memory:
 * what an operator's SDK would export. Registered globally with `install()`.
 */
export class MemoryTracerProvider implements TracerProvider {
  readonly spans: RecordedSpan[] = [];

  getTracer(): Tracer {
    const spans = this.spans;
    const startSpan = (name: string, options: SpanOptions = {}): Span => {
      const recorded: RecordedSpan = {
        name,
        attributes: { ...options.attributes },
        exceptions: [],
        ended: false,
      };
      spans.push(recorded);
      const spanContext: SpanContext = {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: (spans.length + 0x1000).toString(16).padStart(16, '0'),
        traceFlags: TraceFlags.SAMPLED,
      };
      const span: Span = {
        spanContext: () => spanContext,
        setAttribute: (key, value) => ((recorded.attributes[key] = value), span),
        setAttributes: (attributes) => (Object.assign(recorded.attributes, attributes), span),
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (status) => ((recorded.status = status), span),
        updateName: (n) => ((recorded.name = n), span),
        end: () => void (recorded.ended = true),
        isRecording: () => !recorded.ended,
        recordException: (exception) => void recorded.exceptions.push(exception),
      };
      return span;
    };
    // startActiveSpan(name, [options, [context,]] fn): the function is always the last argument.
    const startActiveSpan = (name: string, ...rest: unknown[]) => {
      const fn = rest.pop() as (span: Span) => unknown;
      const options = (rest[0] ?? {}) as SpanOptions;
      const parent = (rest[1] as Context | undefined) ?? contextApi.active();
      const span = startSpan(name, options);
      return contextApi.with(trace.setSpan(parent, span), () => fn(span));
    };
    return { startSpan, startActiveSpan } as Tracer;
  }

  /** Makes this the global provider until `uninstall()`. */
  install(): this {
    if (!trace.setGlobalTracerProvider(this)) throw new Error('a global tracer provider is already set');
    return this;
  }

  uninstall(): void {
    trace.disable();
  }
}

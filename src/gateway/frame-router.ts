import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ErrorCode } from '#protocol';
import { assertAllowed } from '../auth/permissions.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { validateData } from './dto/validate.js';
import { FrameTracer } from './frame-tracer.js';
import type { HandlerContext } from './handler-context.js';
import { MESSAGE_HANDLER, type MessageHandlerMetadata } from './message-handler.decorator.js';

type HandlerFn = (ctx: HandlerContext, data: unknown) => unknown;

interface Route {
  fn: HandlerFn;
  meta: MessageHandlerMetadata;
  owner: string;
}

/** Types the gateway itself owns: never routed to a handler. */
const RESERVED = new Set(['hello', 'ack', 'error']);

/**
 * Every `@MessageHandler` of the application, found at boot, and the dispatch of a typed
 * frame to its handler (validating `data` into the handler's DTO first).
 */
@Injectable()
export class FrameRouter implements OnModuleInit {
  private readonly logger = new Logger(FrameRouter.name);
  private readonly routes = new Map<string, Route>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly tracer: FrameTracer,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const method = instance[name] as HandlerFn;
        const meta = this.reflector.get<MessageHandlerMetadata | undefined>(MESSAGE_HANDLER, method);
        if (meta) this.add(meta, method.bind(instance), `${instance.constructor.name}.${name}`);
      }
    }
    this.logger.log(`${this.routes.size} frame types: ${[...this.routes.keys()].sort().join(', ')}`);
  }

  has(type: string): boolean {
    return this.routes.has(type);
  }

  types(): string[] {
    return [...this.routes.keys()];
  }

  /**
   * Runs the handler of `type` (traced, see FrameTracer); throws UNKNOWN_TYPE when there is
   * none, FORBIDDEN without its permission.
   */
  async dispatch(type: string, ctx: HandlerContext, data: Record<string, unknown>): Promise<unknown> {
    const route = this.route(type);
    return this.tracer.run(type, ctx, data, async () => {
      const input = this.input(route, data);
      const { permission } = route.meta;
      if (permission)
        assertAllowed(
          ctx.connection.principal,
          typeof permission === 'function' ? permission(input) : permission,
        );
      return route.fn(ctx, input);
    });
  }

  /**
   * `data` validated as dispatch validates it, without running the handler: UNKNOWN_TYPE or
   * BAD_REQUEST as a frame would get. The AsyncAPI document's examples are checked with it.
   */
  parse(type: string, data: Record<string, unknown>): unknown {
    return this.input(this.route(type), data);
  }

  private route(type: string): Route {
    const route = this.routes.get(type);
    if (!route) throw new RoomcastError(ErrorCode.UNKNOWN_TYPE, `unknown type ${type}`);
    return route;
  }

  private input(route: Route, data: Record<string, unknown>): unknown {
    if (route.meta.dto) return validateData(route.meta.dto, data);
    if (Object.keys(data).length) throw RoomcastError.badRequest(`${route.meta.type} takes no data`);
    return data;
  }

  private add(meta: MessageHandlerMetadata, fn: HandlerFn, owner: string): void {
    if (RESERVED.has(meta.type))
      throw new Error(`@MessageHandler('${meta.type}') on ${owner}: the type is reserved by the gateway`);
    const existing = this.routes.get(meta.type);
    if (existing) {
      throw new Error(`@MessageHandler('${meta.type}') is declared twice: ${existing.owner} and ${owner}`);
    }
    this.routes.set(meta.type, { fn, meta, owner });
  }
}

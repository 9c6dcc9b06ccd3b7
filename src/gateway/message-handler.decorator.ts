import { SetMetadata, type Type } from '@nestjs/common';

export const MESSAGE_HANDLER = Symbol('roomcast:message-handler');

export interface MessageHandlerOptions {
  /**
   * class-validator DTO for `data`. The frame's data is validated into an instance of it
   * before the handler runs (unknown fields are refused); without a DTO, `data` must be absent or `{}`.
   */
  dto?: Type<object>;
}

export interface MessageHandlerMetadata extends MessageHandlerOptions {
  type: string;
}

/**
 * Makes a provider method the handler of a frame `type`, after the handshake. This is how
 * every built-in request is registered too; two handlers of one type stop start-up.
 *
 * The method receives `(ctx: HandlerContext, data: Dto)` and returns the ack data, an
 * `EventReply` (an event carrying the request id, as `room_info` answers `query_room`),
 * or nothing (no reply). Throwing a RoomcastError sends an `error` frame with its code.
 */
export const MessageHandler = (type: string, options: MessageHandlerOptions = {}) =>
  SetMetadata<symbol, MessageHandlerMetadata>(MESSAGE_HANDLER, { type, ...options });

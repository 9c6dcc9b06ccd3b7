import { SetMetadata, type Type } from '@nestjs/common';

export const MESSAGE_HANDLER = Symbol('roomcast:message-handler');

export interface MessageHandlerOptions<D = never> {
  /**
   * class-validator DTO for `data`. The frame's data is validated into an instance of it
   * before the handler runs (unknown fields are refused); without a DTO, `data` must be absent or `{}`.
   */
  dto?: Type<D & object>;
  /**
   * The token permission the request needs (see auth/permissions.ts), or a function of the
   * validated data giving it (`room.join` needs `join:room:<room_id>`). Checked by the
   * FrameRouter on every request, before the handler runs: FORBIDDEN without it.
   */
  permission?: string | ((data: D) => string);
}

export interface MessageHandlerMetadata extends MessageHandlerOptions<unknown> {
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
export const MessageHandler = <D = never>(type: string, options: MessageHandlerOptions<D> = {}) =>
  SetMetadata<symbol, MessageHandlerMetadata>(MESSAGE_HANDLER, {
    type,
    ...(options as MessageHandlerOptions<unknown>),
  });

import type { Connection } from './connection.js';

export interface HandlerContext {
  /** The sending connection, after its handshake. */
  connection: Connection;
  /** The frame's `id`, when the client gave one. */
  requestId?: string;
}

/** A handler's answer sent as an event with the request id instead of an `ack`. */
export class EventReply<D = unknown> {
  constructor(
    readonly type: string,
    readonly data: D,
  ) {}
}

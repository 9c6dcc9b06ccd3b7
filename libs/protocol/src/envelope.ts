/** Error codes of the wire contract (protocol.md, "Envelope"). */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  ROOM_FULL: 'ROOM_FULL',
  RATE_LIMITED: 'RATE_LIMITED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  CONFLICT: 'CONFLICT',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes the server uses. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  /** The client did not read its frames fast enough (outbound buffer full): reconnect and resume. */
  TRY_AGAIN_LATER: 1013,
  BAD_HANDSHAKE: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  HANDSHAKE_TIMEOUT: 4408,
  REPLACED: 4409,
  RATE_LIMIT_ABUSE: 4429,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Client → server frame. */
export interface ClientFrame<T extends string = string, D = Record<string, unknown>> {
  type: T;
  id?: string;
  data?: D;
}

export interface AckFrame<D = unknown> {
  type: 'ack';
  id: string;
  data: D;
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Present with RATE_LIMITED. */
  retry_after_ms?: number;
}

export interface ErrorFrame {
  type: 'error';
  id?: string;
  error: ErrorBody;
}

export interface EventFrame<T extends string = string, D = unknown> {
  type: T;
  /** Only on events that answer a request, such as `room_info` for `query_room`. */
  id?: string;
  data: D;
}

export type ServerFrame = AckFrame | ErrorFrame | EventFrame;

/** Limits of the envelope itself. */
export const REQUEST_ID_MAX_LENGTH = 64;
export const ROOM_ID_PATTERN = /^[A-Z0-9]{8}$/;

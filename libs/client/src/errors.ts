import type { ErrorBody, ErrorCode } from '#protocol';

/**
 * Codes the client itself produces, beside the server's error codes: `TIMEOUT` (no answer in
 * time), `CLOSED` (the socket closed first; for ReconnectingClient: the client was closed or gave
 * up reconnecting), `QUEUE_FULL` (ReconnectingClient: too many requests waiting for a socket).
 */
export type ClientErrorCode = 'TIMEOUT' | 'CLOSED' | 'QUEUE_FULL';

/** A request answered by an `error` frame, not answered in time, or cut off by the socket closing. */
export class RoomcastRequestError extends Error {
  override readonly name = 'RoomcastRequestError';

  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    /** The request's `id`. */
    readonly requestId: string,
    /** The request's `type`. */
    readonly requestType: string,
    /** From `retry_after_ms` on RATE_LIMITED. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  static fromBody(body: ErrorBody, requestId: string, requestType: string): RoomcastRequestError {
    return new RoomcastRequestError(body.code, body.message, requestId, requestType, body.retry_after_ms);
  }
}

/**
 * Opening the socket or the handshake failed: the socket could not open, the server refused the
 * hello (an `error` frame and/or a close code such as 4401), answered out of contract order, or
 * did not finish in time.
 */
export class RoomcastConnectError extends Error {
  override readonly name = 'RoomcastConnectError';

  constructor(
    message: string,
    readonly details: {
      /** Close code when the server (or the network) closed the socket. */
      closeCode?: number;
      closeReason?: string;
      /** The `error` frame that answered the hello, if any. */
      error?: ErrorBody;
      /** Event types received during the handshake, in order (for diagnostics). */
      received?: string[];
    } = {},
  ) {
    super(message);
  }

  get closeCode(): number | undefined {
    return this.details.closeCode;
  }

  get code(): ErrorCode | undefined {
    return this.details.error?.code;
  }
}

/** `waitFor`/`collect` saw no matching event in time, or the socket closed first. */
export class RoomcastWaitError extends Error {
  override readonly name = 'RoomcastWaitError';

  constructor(
    message: string,
    readonly reason: 'timeout' | 'closed',
  ) {
    super(message);
  }
}

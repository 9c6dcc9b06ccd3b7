import { ErrorCode } from '#protocol';

/**
 * A failure with a stable protocol code. Services throw it; the gateway turns it into an
 * `error` frame and the admin API into an HTTP status, each in one place.
 */
export class RoomcastError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RoomcastError';
  }

  static badRequest(message: string) {
    return new RoomcastError(ErrorCode.BAD_REQUEST, message);
  }
  static notFound(message: string) {
    return new RoomcastError(ErrorCode.NOT_FOUND, message);
  }
  static unavailable(message: string) {
    return new RoomcastError(ErrorCode.UNAVAILABLE, message);
  }

  /**
   * The error as a RoomcastError when it is one, or when it says a backing service (Redis,
   * the database) could not be reached: UNAVAILABLE, so the client retries. Anything else is
   * a bug and stays as it is.
   */
  static from(err: unknown): RoomcastError | undefined {
    if (err instanceof RoomcastError) return err;
    const e = err as { name?: string; message?: string; code?: string } | undefined;
    if (
      e?.name === 'MaxRetriesPerRequestError' ||
      /Stream isn't writeable|Connection is closed|ECONNREFUSED|ETIMEDOUT|ECONNRESET/.test(
        e?.message ?? '',
      ) ||
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST'].includes(e?.code ?? '')
    )
      return RoomcastError.unavailable('a backing service is unreachable; retry shortly');
    return undefined;
  }
}

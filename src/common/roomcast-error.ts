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
}

import { ArgumentsHost, Catch, HttpException, HttpStatus } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Response } from 'express';
import { ErrorCode } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';
import type { ErrorResponseDto } from './dto/error.dto.js';

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: HttpStatus.BAD_REQUEST,
  UNKNOWN_TYPE: HttpStatus.BAD_REQUEST,
  UNAUTHORIZED: HttpStatus.UNAUTHORIZED,
  FORBIDDEN: HttpStatus.FORBIDDEN,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  ROOM_FULL: HttpStatus.CONFLICT,
  RATE_LIMITED: HttpStatus.TOO_MANY_REQUESTS,
  PAYLOAD_TOO_LARGE: HttpStatus.PAYLOAD_TOO_LARGE,
  CONFLICT: HttpStatus.CONFLICT,
  UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
  INTERNAL: HttpStatus.INTERNAL_SERVER_ERROR,
};

/** The protocol code for an HTTP status raised by Nest itself (guards, pipes, unknown routes). */
function codeFor(status: number): ErrorCode {
  switch (status) {
    case HttpStatus.BAD_REQUEST:
    case HttpStatus.UNPROCESSABLE_ENTITY:
      return ErrorCode.BAD_REQUEST;
    case HttpStatus.UNAUTHORIZED:
      return ErrorCode.UNAUTHORIZED;
    case HttpStatus.FORBIDDEN:
      return ErrorCode.FORBIDDEN;
    case HttpStatus.NOT_FOUND:
      return ErrorCode.NOT_FOUND;
    case HttpStatus.CONFLICT:
      return ErrorCode.CONFLICT;
    case HttpStatus.PAYLOAD_TOO_LARGE:
      return ErrorCode.PAYLOAD_TOO_LARGE;
    case HttpStatus.TOO_MANY_REQUESTS:
      return ErrorCode.RATE_LIMITED;
    case HttpStatus.SERVICE_UNAVAILABLE:
      return ErrorCode.UNAVAILABLE;
    default:
      return status < 500 ? ErrorCode.BAD_REQUEST : ErrorCode.INTERNAL;
  }
}

/**
 * Every HTTP error leaves in one shape, `{statusCode, code, message, details?}` (ErrorResponseDto):
 * domain errors (RoomcastError) with their protocol code, and Nest's own exceptions (guard
 * refusals, validation failures, unknown routes) with the code of their status. A body that is
 * not Nest's standard error shape, such as terminus's health report on 503, passes unchanged.
 * A backing service that could not be reached answers 503 UNAVAILABLE (RoomcastError.from).
 * Other errors are left to Nest's default handler (logged, 500).
 */
@Catch()
export class RoomcastErrorFilter extends BaseExceptionFilter {
  override catch(thrown: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const error = thrown instanceof HttpException ? thrown : RoomcastError.from(thrown);
    if (!error) return super.catch(thrown, host);
    if (error instanceof RoomcastError) {
      const status = STATUS[error.code];
      if (error.retryAfterMs !== undefined)
        res.setHeader('Retry-After', String(Math.ceil(error.retryAfterMs / 1000)));
      this.send(res, {
        statusCode: status,
        code: error.code,
        message: error.message,
        ...(error.retryAfterMs !== undefined ? { retry_after_ms: error.retryAfterMs } : {}),
      });
      return;
    }
    const status = error.getStatus();
    const body = error.getResponse();
    if (typeof body === 'object' && body !== null && !('message' in body)) {
      res.status(status).json(body);
      return;
    }
    const raw = typeof body === 'string' ? body : (body as { message: unknown }).message;
    const details = Array.isArray(raw) ? raw.map(String) : undefined;
    this.send(res, {
      statusCode: status,
      code: codeFor(status),
      message: details ? details.join('; ') : String(raw),
      ...(details ? { details } : {}),
    });
  }

  private send(res: Response, body: ErrorResponseDto): void {
    // Unless the refusing code chose its own challenge (the queue dashboard asks for Basic).
    if (body.statusCode === HttpStatus.UNAUTHORIZED && !res.hasHeader('WWW-Authenticate'))
      res.setHeader('WWW-Authenticate', 'Bearer realm="roomcast-admin"');
    res.status(body.statusCode).json(body);
  }
}

import {
  BadRequestException,
  ForbiddenException,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
  type ArgumentsHost,
} from '@nestjs/common';
import { ErrorCode } from '#protocol';
import { describe, expect, it } from 'vitest';
import { RoomcastError } from '../common/roomcast-error.js';
import { RoomcastErrorFilter } from './roomcast-error.filter.js';

function respond(error: Error, headers: Record<string, string> = {}) {
  const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers };
  const res = {
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
      return this;
    },
    setHeader(name: string, value: string) {
      sent.headers[name.toLowerCase()] = value;
    },
    hasHeader: (name: string) => name.toLowerCase() in sent.headers,
  };
  const host = { switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
  new RoomcastErrorFilter().catch(error as RoomcastError, host);
  return sent;
}

describe('RoomcastErrorFilter', () => {
  it('maps domain errors to their status with the protocol code', () => {
    expect(respond(RoomcastError.notFound('room X does not exist'))).toMatchObject({
      status: 404,
      body: { statusCode: 404, code: 'NOT_FOUND', message: 'room X does not exist' },
    });
    expect(respond(new RoomcastError(ErrorCode.CONFLICT, 'exists')).status).toBe(409);
    expect(respond(new RoomcastError(ErrorCode.ROOM_FULL, 'full')).status).toBe(409);
    expect(respond(RoomcastError.unavailable('down')).body).toMatchObject({
      statusCode: 503,
      code: 'UNAVAILABLE',
    });
  });

  it('adds retry_after_ms and Retry-After to RATE_LIMITED', () => {
    const sent = respond(new RoomcastError(ErrorCode.RATE_LIMITED, 'slow down', 1500));
    expect(sent.status).toBe(429);
    expect(sent.body).toMatchObject({ code: 'RATE_LIMITED', retry_after_ms: 1500 });
    expect(sent.headers['retry-after']).toBe('2');
  });

  it("gives Nest's own exceptions the same shape", () => {
    expect(respond(new UnauthorizedException('invalid admin token'))).toMatchObject({
      status: 401,
      body: { statusCode: 401, code: 'UNAUTHORIZED', message: 'invalid admin token' },
      headers: { 'www-authenticate': 'Bearer realm="roomcast-admin"' },
    });
    const challenged = { 'www-authenticate': 'Basic realm="Roomcast"' };
    expect(respond(new UnauthorizedException('no'), challenged).headers).toEqual(challenged);
    expect(respond(new ForbiddenException('disabled')).body).toMatchObject({
      code: 'FORBIDDEN',
      message: 'disabled',
    });
    expect(respond(new NotFoundException('Cannot GET /api/nope')).body).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('lists each validation problem in details', () => {
    const sent = respond(
      new BadRequestException(['limit must not be less than 1', 'property colour should not exist']),
    );
    expect(sent.status).toBe(400);
    expect(sent.body).toEqual({
      statusCode: 400,
      code: 'BAD_REQUEST',
      message: 'limit must not be less than 1; property colour should not exist',
      details: ['limit must not be less than 1', 'property colour should not exist'],
    });
  });

  it("passes a body that is not Nest's error shape unchanged (the health report)", () => {
    const report = {
      status: 'error',
      info: {},
      error: { redis: { status: 'down' } },
      details: { redis: { status: 'down' } },
    };
    expect(respond(new ServiceUnavailableException(report))).toEqual({
      status: 503,
      body: report,
      headers: {},
    });
  });
});

import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { ErrorCode } from '#protocol';

/** Every error of the HTTP API (RoomcastErrorFilter): the status, the protocol's error code, a message. */
export class ErrorResponseDto {
  @ApiProperty({ type: 'integer', example: 404 })
  statusCode: number;

  @ApiProperty({ enum: Object.values(ErrorCode), example: ErrorCode.NOT_FOUND })
  code: ErrorCode;

  @ApiProperty({ example: 'room ROOM0001 does not exist' })
  message: string;

  @ApiPropertyOptional({ type: [String], description: 'Each validation problem, for BAD_REQUEST' })
  details?: string[];

  @ApiPropertyOptional({ type: 'integer', description: 'With RATE_LIMITED' })
  retry_after_ms?: number;
}

/** Documents the error responses of a route, each with the ErrorResponseDto body: `ApiErrors({ 404: 'No such room' })`. */
export function ApiErrors(
  responses: Partial<Record<400 | 404 | 409 | 503, string>>,
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...Object.entries(responses).map(([status, description]) =>
      ApiResponse({ status: Number(status), description, type: ErrorResponseDto }),
    ),
  );
}

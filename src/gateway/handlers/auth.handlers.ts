import { Injectable } from '@nestjs/common';
import { ErrorCode, type AuthRefreshAck } from '#protocol';
import { AuthService } from '../../auth/auth.service.js';
import { RoomcastError } from '../../common/roomcast-error.js';
import { AuthRefreshDto } from '../dto/auth.dto.js';
import type { HandlerContext } from '../handler-context.js';
import { MessageHandler } from '../message-handler.decorator.js';
import { TokenExpiry } from '../token-expiry.js';

@Injectable()
export class AuthHandlers {
  constructor(
    private readonly auth: AuthService,
    private readonly expiry: TokenExpiry,
  ) {}

  /**
   * A new token for the live connection, checked as at the handshake and for the same `sub`.
   * Its permissions and expiry replace the old ones; a refused token changes nothing.
   */
  @MessageHandler('auth.refresh', { dto: AuthRefreshDto })
  async refresh({ connection }: HandlerContext, { token }: AuthRefreshDto): Promise<AuthRefreshAck> {
    const principal = await this.auth.verify(token);
    if (principal.subject !== connection.principal?.subject)
      throw new RoomcastError(ErrorCode.UNAUTHORIZED, 'the token is for another subject');
    connection.principal = principal;
    this.expiry.watch(connection);
    return { expires_at: principal.expiresAt ?? null };
  }
}

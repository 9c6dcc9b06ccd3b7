import { createPublicKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ErrorCode } from '#protocol';
import { jwtVerify, type JWTPayload, type KeyObject } from 'jose';
import { AppConfig } from '../config/app-config.js';
import { RoomcastError } from '../common/roomcast-error.js';

export interface Principal {
  /** `sub` of the token; the device id for anonymous clients. */
  subject: string;
  anonymous: boolean;
  /** From the token's `permissions` (array) or `scope` (space-separated) claim. */
  permissions: string[];
}

/**
 * Verifies the `hello` token. Algorithms are pinned per key type, so an HS256 token can
 * never be checked against an RSA public key (and `alg: none` never passes).
 * Expiry during a session, permissions per request, JWKS and the rest come with the
 * hardening issue.
 */
@Injectable()
export class AuthService {
  private readonly key?: { secret: Uint8Array | KeyObject; algorithms: string[] };

  constructor(private readonly config: AppConfig) {
    if (config.JWT_SECRET) {
      this.key = { secret: new TextEncoder().encode(config.JWT_SECRET), algorithms: ['HS256'] };
    } else if (config.JWT_PUBLIC_KEY) {
      const key = createPublicKey(config.JWT_PUBLIC_KEY.replace(/\\n/g, '\n'));
      this.key = { secret: key, algorithms: key.asymmetricKeyType === 'ec' ? ['ES256'] : ['RS256'] };
    }
  }

  async authenticate(deviceId: string, token: string | undefined): Promise<Principal> {
    if (!token) {
      if (this.config.authAnonymous) return { subject: deviceId, anonymous: true, permissions: [] };
      throw new RoomcastError(ErrorCode.UNAUTHORIZED, 'a token is required');
    }
    if (!this.key)
      throw new RoomcastError(ErrorCode.UNAUTHORIZED, 'tokens are not accepted: no JWT key is configured');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key.secret, { algorithms: this.key.algorithms }));
    } catch (err) {
      throw new RoomcastError(ErrorCode.UNAUTHORIZED, `invalid token: ${(err as Error).message}`);
    }
    if (!payload.sub) throw new RoomcastError(ErrorCode.UNAUTHORIZED, 'invalid token: no sub claim');
    return { subject: payload.sub, anonymous: false, permissions: permissionsOf(payload) };
  }
}

function permissionsOf(payload: JWTPayload): string[] {
  if (Array.isArray(payload.permissions))
    return payload.permissions.filter((p): p is string => typeof p === 'string');
  return typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
}

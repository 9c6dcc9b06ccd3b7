import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Injectable } from '@nestjs/common';
import { ErrorCode } from '#protocol';
import {
  createLocalJWKSet,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type KeyObject,
} from 'jose';
import { AppConfig } from '../config/app-config.js';
import { RoomcastError } from '../common/roomcast-error.js';

export interface Principal {
  /** `sub` of the token (a device or user id); the device id for anonymous clients. */
  subject: string;
  anonymous: boolean;
  /** From the token's `permissions` (array) or `scope` (space-separated) claim. */
  permissions: string[];
  /** The token's `exp` in ms since the epoch; absent when the token does not expire. */
  expiresAt?: number;
}

type VerificationKey = Uint8Array | KeyObject | JWTVerifyGetKey;

/** Asymmetric algorithms accepted from a JWKS file; each key is used only with its own kind. */
const JWKS_ALGORITHMS = ['RS256', 'ES256'];

/**
 * Verifies client tokens (the `hello` token, an upgrade's bearer token, `auth.refresh`).
 * Algorithms are pinned per key type, so an HS256 token can never be checked against an RSA
 * public key and `alg: none` never passes. `exp` and `nbf` are always checked (with
 * JWT_CLOCK_TOLERANCE_S of skew), `iss`/`aud` when configured.
 */
@Injectable()
export class AuthService {
  private readonly key?: { secret: VerificationKey; algorithms: string[] };

  constructor(private readonly config: AppConfig) {
    if (config.JWT_SECRET) {
      this.key = { secret: new TextEncoder().encode(config.JWT_SECRET), algorithms: ['HS256'] };
    } else if (config.JWT_PUBLIC_KEY) {
      const key = createPublicKey(config.JWT_PUBLIC_KEY.replace(/\\n/g, '\n'));
      this.key = { secret: key, algorithms: key.asymmetricKeyType === 'ec' ? ['ES256'] : ['RS256'] };
    } else if (config.JWT_JWKS_FILE) {
      this.key = { secret: createLocalJWKSet(readJwks(config.JWT_JWKS_FILE)), algorithms: JWKS_ALGORITHMS };
    }
  }

  /** The handshake: a token, or (when AUTH_ANONYMOUS) none, which admits the device as itself. */
  async authenticate(deviceId: string, token: string | undefined): Promise<Principal> {
    if (!token) {
      if (this.config.authAnonymous) return { subject: deviceId, anonymous: true, permissions: [] };
      throw new RoomcastError(ErrorCode.UNAUTHORIZED, 'a token is required');
    }
    return this.verify(token);
  }

  /** Verifies a token; UNAUTHORIZED with the reason when it does not pass. */
  async verify(token: string): Promise<Principal> {
    if (!this.key)
      throw new RoomcastError(ErrorCode.UNAUTHORIZED, 'tokens are not accepted: no JWT key is configured');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key.secret as Uint8Array, {
        algorithms: this.key.algorithms,
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
        clockTolerance: this.config.JWT_CLOCK_TOLERANCE_S,
      }));
    } catch (err) {
      throw new RoomcastError(ErrorCode.UNAUTHORIZED, `invalid token: ${(err as Error).message}`);
    }
    if (!payload.sub) throw new RoomcastError(ErrorCode.UNAUTHORIZED, 'invalid token: no sub claim');
    return {
      subject: payload.sub,
      anonymous: false,
      permissions: permissionsOf(payload),
      ...(payload.exp !== undefined ? { expiresAt: payload.exp * 1000 } : {}),
    };
  }
}

function readJwks(path: string): JSONWebKeySet {
  let jwks: unknown;
  try {
    jwks = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`JWT_JWKS_FILE ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!jwks || !Array.isArray((jwks as JSONWebKeySet).keys))
    throw new Error(`JWT_JWKS_FILE ${path}: expected a JSON object with a "keys" array`);
  return jwks as JSONWebKeySet;
}

function permissionsOf(payload: JWTPayload): string[] {
  if (Array.isArray(payload.permissions))
    return payload.permissions.filter((p): p is string => typeof p === 'string');
  return typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
}

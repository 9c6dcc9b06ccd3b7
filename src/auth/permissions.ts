import { ErrorCode } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';
import type { Principal } from './auth.service.js';

/** Permissions a token grants in its `permissions` or `scope` claim. */
export const Permission = {
  SEND_MESSAGE: 'send:message',
  CREATE_ROOM: 'create:room',
  /** Grants everything. */
  ADMIN: 'admin',
} as const;

const JOIN_ROOM = 'join:room:';

/** The permission needed to join `roomId`; tokens grant it with a glob (`join:room:TEAM*`). */
export const joinRoom = (roomId: string): string => `${JOIN_ROOM}${roomId}`;

const globs = new Map<string, RegExp>();

function globMatches(pattern: string, value: string): boolean {
  let re = globs.get(pattern);
  if (!re) {
    const source = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    re = new RegExp(`^${source.join('.*')}$`);
    if (globs.size > 10_000) globs.clear();
    globs.set(pattern, re);
  }
  return re.test(value);
}

/**
 * Whether `principal` holds `permission`. Anonymous clients (AUTH_ANONYMOUS) may do
 * everything, as before tokens carried permissions; `admin` grants everything; `*` is a glob
 * only in `join:room:` patterns.
 */
export function allows(principal: Principal | undefined, permission: string): boolean {
  if (!principal) return false;
  if (principal.anonymous) return true;
  return principal.permissions.some(
    (granted) =>
      granted === Permission.ADMIN ||
      granted === permission ||
      (granted.startsWith(JOIN_ROOM) &&
        permission.startsWith(JOIN_ROOM) &&
        granted.includes('*') &&
        globMatches(granted, permission)),
  );
}

/** FORBIDDEN unless `principal` holds `permission`. */
export function assertAllowed(principal: Principal | undefined, permission: string): void {
  if (!allows(principal, permission))
    throw new RoomcastError(ErrorCode.FORBIDDEN, `the token does not grant ${permission}`);
}

/**
 * Who is entering a room, for its member list: a token with `admin` goes into every private
 * room. Anonymous clients do not: a private room's list is the one thing they cannot bypass.
 */
export function entrant(
  principal: Principal | undefined,
  deviceId: string,
): { deviceId: string; bypass: boolean } {
  return {
    deviceId,
    bypass: !!principal && !principal.anonymous && principal.permissions.includes(Permission.ADMIN),
  };
}

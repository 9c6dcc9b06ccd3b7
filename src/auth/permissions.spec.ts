import { describe, expect, it } from 'vitest';
import { allows, entrant, joinRoom, Permission } from './permissions.js';

const token = (...permissions: string[]) => ({ subject: 'u', anonymous: false, permissions });
const anonymous = { subject: 'd', anonymous: true, permissions: [] };

describe('permissions', () => {
  it('grants what the token lists, join:room globs, and everything to admin', () => {
    expect(allows(token('send:message'), Permission.SEND_MESSAGE)).toBe(true);
    expect(allows(token('send:message'), Permission.CREATE_ROOM)).toBe(false);
    expect(allows(token('join:room:TEAM*'), joinRoom('TEAM-1'))).toBe(true);
    expect(allows(token('join:room:TEAM*'), joinRoom('LOBBY'))).toBe(false);
    expect(allows(token('admin'), joinRoom('LOBBY'))).toBe(true);
    expect(allows(undefined, Permission.SEND_MESSAGE)).toBe(false);
    expect(allows(anonymous, Permission.CREATE_ROOM)).toBe(true);
  });

  it('lets only admin tokens past private rooms member lists, not anonymous clients', () => {
    expect(entrant(token('admin'), 'd1')).toEqual({ deviceId: 'd1', bypass: true });
    expect(entrant(token('join:room:*', 'create:room'), 'd1')).toEqual({ deviceId: 'd1', bypass: false });
    expect(entrant(anonymous, 'd1')).toEqual({ deviceId: 'd1', bypass: false });
    expect(entrant(undefined, 'd1')).toEqual({ deviceId: 'd1', bypass: false });
  });
});

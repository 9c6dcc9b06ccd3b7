import { describe, expect, it } from 'vitest';
import { CLIENT_ROOM_ID, generateRoomId } from './room-id.js';

describe('generateRoomId', () => {
  it('makes 8 characters of [A-Z0-9]', () => {
    for (let i = 0; i < 1000; i++) expect(generateRoomId()).toMatch(/^[A-Z0-9]{8}$/);
  });

  it('spreads over the alphabet (no fixed positions)', () => {
    const ids = new Set(Array.from({ length: 10_000 }, generateRoomId));
    expect(ids.size).toBe(10_000);
    const firstChars = new Set([...ids].map((id) => id[0]));
    expect(firstChars.size).toBe(36);
  });

  it('accepts generated ids as client ids', () => {
    expect(CLIENT_ROOM_ID.test(generateRoomId())).toBe(true);
    expect(CLIENT_ROOM_ID.test('has space')).toBe(false);
    expect(CLIENT_ROOM_ID.test('x'.repeat(65))).toBe(false);
  });
});

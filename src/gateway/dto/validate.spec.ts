import { describe, expect, it } from 'vitest';
import { RoomRefDto } from './room.dto.js';
import { validateData } from './validate.js';

describe('validateData', () => {
  it('returns the DTO for valid data', () => {
    expect(validateData(RoomRefDto, { room_id: 'ABCDEFGH' })).toEqual(
      Object.assign(new RoomRefDto(), { room_id: 'ABCDEFGH' }),
    );
  });

  it.each(['__proto__', 'constructor', 'prototype', 'extra'])('refuses the unknown field %s', (key) => {
    const data = JSON.parse(`{"room_id":"ABCDEFGH","${key}":{"polluted":true}}`) as Record<string, unknown>;
    expect(() => validateData(RoomRefDto, data)).toThrow(`property ${key} should not exist`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

import { Type } from 'class-transformer';
import { IsInt, IsString, ValidateNested } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { MessageSendDto } from './message-send.dto.js';
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

  it('keeps nested values as sent when the DTO has no class-transformer decorator', () => {
    const content = { items: [{ id: 1 }], at: '2026-12-03' };
    const dto = validateData(MessageSendDto, { room_id: 'ABCDEFGH', kind: 'custom', content });
    expect(dto).toBeInstanceOf(MessageSendDto);
    expect(dto.content).toEqual(content);
  });

  it('applies class-transformer decorators where a DTO (or its parent) has them', () => {
    class Point {
      @IsInt() x: number;
    }
    class Shape {
      @ValidateNested() @Type(() => Point) at: Point;
    }
    class NamedShape extends Shape {
      @IsString() name: string;
    }
    const shape = validateData(NamedShape, { name: 'dot', at: { x: 1 } });
    expect(shape.at).toBeInstanceOf(Point);
    expect(() => validateData(NamedShape, { name: 'dot', at: { x: 'one' } })).toThrow(/at\.x/);
  });
});

import { describe, expect, it } from 'vitest';
import { decodeText, FrameError, nestsDeeperThan, parseFrame } from './frames.js';

const DEPTH = 64;

describe('parseFrame', () => {
  it('reads a typed request', () => {
    expect(parseFrame('{"type":"room.join","id":"r1","data":{"room_id":"ABCDEFGH"}}', DEPTH)).toMatchObject({
      kind: 'typed',
      type: 'room.join',
      id: 'r1',
      data: { room_id: 'ABCDEFGH' },
    });
  });

  it('defaults data to an empty object', () => {
    expect(parseFrame('{"type":"ping"}', DEPTH)).toMatchObject({ kind: 'typed', data: {} });
  });

  it('reads a typeless room-manager frame', () => {
    expect(parseFrame('{"hello":"world"}', DEPTH)).toEqual({ kind: 'typeless', raw: { hello: 'world' } });
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[1,2]', 'JSON object'],
    ['"str"', 'JSON object'],
    ['null', 'JSON object'],
    ['{"type":5}', 'type'],
    ['{"type":""}', 'type'],
    ['{"type":"ping","data":[1]}', 'data'],
    ['{"type":"ping","data":"x"}', 'data'],
    ['{"type":"ping","id":7}', 'id'],
    [`{"type":"ping","id":"${'x'.repeat(65)}"}`, 'id'],
  ])('refuses %s', (text, reason) => {
    expect(() => parseFrame(text, DEPTH)).toThrow(FrameError);
    expect(() => parseFrame(text, DEPTH)).toThrow(new RegExp(reason));
  });

  it('keeps the id on a refused frame so the error can be correlated', () => {
    try {
      parseFrame('{"type":"ping","id":"abc","data":3}', DEPTH);
      expect.unreachable();
    } catch (err) {
      expect((err as FrameError).id).toBe('abc');
      expect((err as FrameError).code).toBe('BAD_REQUEST');
    }
  });
});

describe('decodeText', () => {
  it('decodes UTF-8', () => {
    expect(decodeText(Buffer.from('{"t":"é😀"}'))).toBe('{"t":"é😀"}');
  });

  it.each([[[0x80]], [[0xc0, 0xaf]], [[0xed, 0xa0, 0x80]], [[0xf4, 0x90, 0x80, 0x80]], [[0x7b, 0xe2, 0x82]]])(
    'refuses the bytes %j with a FrameError',
    (bytes) => {
      expect(() => decodeText(Buffer.from(bytes))).toThrow(new FrameError('frame is not valid UTF-8'));
    },
  );
});

describe('nesting depth', () => {
  const nested = (levels: number) =>
    '{"type":"ping","id":"d1","data":{"a":' + '['.repeat(levels) + ']'.repeat(levels) + '}}';

  it('accepts a frame nesting exactly FRAME_MAX_DEPTH levels', () => {
    // frame, data, then the arrays
    expect(parseFrame(nested(DEPTH - 2), DEPTH)).toMatchObject({ kind: 'typed', id: 'd1' });
  });

  it('refuses one level more, and 10,000 levels, keeping the id', () => {
    for (const levels of [DEPTH - 1, 10_000]) {
      expect(() => parseFrame(nested(levels), DEPTH)).toThrow(
        new FrameError('frame nests deeper than 64 levels (FRAME_MAX_DEPTH)', 'd1'),
      );
    }
  });

  it('counts objects and arrays, not scalars, without recursing', () => {
    expect(nestsDeeperThan(1, 1)).toBe(false);
    expect(nestsDeeperThan({ a: 1, b: 'x' }, 1)).toBe(false);
    expect(nestsDeeperThan({ a: [1] }, 1)).toBe(true);
    expect(nestsDeeperThan({ a: [1], b: { c: {} } }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [1], b: { c: { d: [] } } }, 3)).toBe(true);
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, 64)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { decodeText, FrameError, parseFrame } from './frames.js';

describe('parseFrame', () => {
  it('reads a typed request', () => {
    expect(parseFrame('{"type":"room.join","id":"r1","data":{"room_id":"ABCDEFGH"}}')).toMatchObject({
      kind: 'typed',
      type: 'room.join',
      id: 'r1',
      data: { room_id: 'ABCDEFGH' },
    });
  });

  it('defaults data to an empty object', () => {
    expect(parseFrame('{"type":"ping"}')).toMatchObject({ kind: 'typed', data: {} });
  });

  it('reads a typeless room-manager frame', () => {
    expect(parseFrame('{"hello":"world"}')).toEqual({ kind: 'typeless', raw: { hello: 'world' } });
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
    expect(() => parseFrame(text)).toThrow(FrameError);
    expect(() => parseFrame(text)).toThrow(new RegExp(reason));
  });

  it('keeps the id on a refused frame so the error can be correlated', () => {
    try {
      parseFrame('{"type":"ping","id":"abc","data":3}');
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

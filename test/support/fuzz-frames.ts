import { randomBytes } from 'node:crypto';

/** mulberry32: a small seeded PRNG, so a failing fuzz run can be replayed from its seed. */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  ascii(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + this.int(95));
    return s;
  }
}

/** One frame of the storm and what the server must answer (one `error` frame, or nothing). */
export interface FuzzFrame {
  category: string;
  payload: Buffer;
  /** Sent as 2-4 WebSocket fragments (fin:false) instead of one frame. */
  fragmented: boolean;
}

const DEPTH = 10_000;
/** Built once: 10,000 levels of arrays, of objects, and a mix. */
const NESTED = {
  arrays: '['.repeat(DEPTH) + ']'.repeat(DEPTH),
  objects: '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH),
  mixed: '[{"a":'.repeat(DEPTH / 2) + 'null' + '}]'.repeat(DEPTH / 2),
};

const HUGE_NUMBERS = [
  '1e400',
  '-1e400',
  '123456789012345678901234567890123456789',
  '1.7976931348623157e308',
  '-0',
  '4.9e-324',
  '9007199254740993',
  '1' + '0'.repeat(5000),
];

/** Values of a type other than string (for string fields), as JSON text. */
const NOT_STRINGS = ['0', '-1', 'true', 'false', '[]', '{}', '["x"]', '{"$ne":1}', ...HUGE_NUMBERS];
/** Values that are not whole numbers in range (for integer fields). */
const NOT_INTEGERS = ['"1"', '1.5', 'true', '[]', '{}', '-1', '1e400', '-1e400', 'NaN'];

type FieldKind = 'string' | 'integer' | 'enum' | 'array' | 'object';

interface Template {
  type: string;
  /** A valid `data` (as JSON text per field), and each field's kind, to break one at a time. */
  fields: Record<string, { valid: string; kind: FieldKind; required?: boolean }>;
}

const room = (required = true) => ({ valid: '"FUZZROOM"', kind: 'string' as const, required });
const device = (required = true) => ({ valid: '"fuzz-peer"', kind: 'string' as const, required });

/** Every request type of libs/protocol (and the server's extra ones), with valid data. */
const TEMPLATES: Template[] = [
  { type: 'room.join', fields: { room_id: room() } },
  { type: 'room.leave', fields: { room_id: room() } },
  {
    type: 'room.create',
    fields: {
      room_id: room(false),
      name: { valid: '"n"', kind: 'string' },
      max_clients: { valid: '5', kind: 'integer' },
    },
  },
  { type: 'query_room', fields: { room_id: room(false) } },
  { type: 'room.invite', fields: { room_id: room(), device_id: device() } },
  {
    type: 'message.send',
    fields: {
      room_id: room(false),
      kind: { valid: '"text"', kind: 'enum', required: true },
      content: { valid: '"hi"', kind: 'string', required: true },
      mentions: { valid: '["fuzz-peer"]', kind: 'array' },
    },
  },
  {
    type: 'message.read',
    fields: { room_id: room(false), up_to_seq: { valid: '1', kind: 'integer' } },
  },
  {
    type: 'typing',
    fields: { room_id: room(false), state: { valid: '"start"', kind: 'enum', required: true } },
  },
  { type: 'message.recall', fields: { message_id: { valid: '"m1"', kind: 'string', required: true } } },
  {
    type: 'history',
    fields: { room_id: room(false), limit: { valid: '10', kind: 'integer', required: true } },
  },
  { type: 'presence', fields: { room_id: room() } },
];

const wrongFor = (kind: FieldKind): readonly string[] =>
  kind === 'integer'
    ? NOT_INTEGERS
    : kind === 'array'
      ? ['"fuzz-peer"', '5', '{}', '[1,2]', `[${'"a",'.repeat(200)}"a"]`]
      : kind === 'enum'
        ? ['"nope"', '""', '5', '[]', '{}', ...HUGE_NUMBERS.slice(0, 3)]
        : NOT_STRINGS;

/** Text that is not valid UTF-8: lone continuation bytes, overlong forms, surrogates, truncation. */
const BAD_UTF8 = [
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xff, 0xfe]),
];

/**
 * The frames a handshaken client can send that the server must refuse with exactly one
 * `error` frame (and nothing else). Valid requests and typeless frames (relays) are not
 * produced: they are not malformed.
 */
export function malformedFrame(rng: Prng, seq: number): FuzzFrame {
  const id = `f${seq}`;
  const text = (category: string, body: string): FuzzFrame => ({
    category,
    payload: Buffer.from(body),
    fragmented: rng.next() < 0.05,
  });
  const typed = (type: string, data: string) =>
    `{"type":${JSON.stringify(type)},"id":"${id}","data":${data}}`;
  const dataOf = (t: Template, override: Record<string, string | undefined>) =>
    '{' +
    Object.entries({
      ...Object.fromEntries(Object.entries(t.fields).map(([k, f]) => [k, f.valid])),
      ...override,
    })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(',') +
    '}';

  switch (rng.int(12)) {
    case 0: {
      // Not JSON: garbage, truncated JSON, JSON-ish.
      const body = rng.pick([
        () => rng.ascii(1 + rng.int(200)),
        () => typed('ping', '{}').slice(0, 1 + rng.int(30)),
        () => `{"type":"ping","id":"${id}",}`,
        () => "{'type':'ping'}",
        () => '',
        () => ' ',
        () => '{"type":"ping"}{"type":"ping"}',
        () => '\u0000',
      ])();
      return text('not-json', body);
    }
    case 1:
      return text('not-object', rng.pick(['[]', '[1,2]', '"ping"', '42', 'null', 'true', ...HUGE_NUMBERS]));
    case 2: {
      // Invalid UTF-8, alone or inside an otherwise good frame.
      const bad = rng.pick(BAD_UTF8);
      const payload =
        rng.next() < 0.5
          ? bad
          : Buffer.concat([Buffer.from(`{"type":"ping","id":"`), bad, Buffer.from('"}')]);
      return { category: 'invalid-utf8', payload, fragmented: rng.next() < 0.1 };
    }
    case 3: {
      // 10,000 levels of nesting: as the frame, as `data`, inside a field, as message content.
      // Up to 60 KB each: one draw in three, so that they do not make up most of the bytes.
      if (rng.int(3) !== 0) return text('not-object', rng.pick(['[[[]]]', '[{}]', '"x"']));
      const nested = rng.pick([NESTED.arrays, NESTED.objects, NESTED.mixed]);
      const body = rng.pick([
        () => nested,
        () => typed('ping', nested),
        () => typed('room.join', `{"room_id":${nested}}`),
        () => typed('message.send', `{"room_id":"NOTMINE1","kind":"custom","content":${nested}}`),
        () => typed('message.send', `{"to_device_id":"fuzz-peer","kind":"text","content":${nested}}`),
        () => `{"type":"ping","id":${nested}}`,
      ])();
      return text('deep-nesting', body);
    }
    case 4: {
      const t = rng.pick(TEMPLATES);
      const field = rng.pick(Object.keys(t.fields));
      return text('huge-number', typed(t.type, dataOf(t, { [field]: rng.pick(HUGE_NUMBERS) })));
    }
    case 5:
    case 6: {
      // One field of the wrong type (or missing when required, or an unknown field).
      const t = rng.pick(TEMPLATES);
      const names = Object.keys(t.fields);
      const field = rng.pick(names);
      const f = t.fields[field];
      const roll = rng.int(10);
      if (roll === 0 && names.some((n) => t.fields[n].required)) {
        const required = names.filter((n) => t.fields[n].required);
        return text('missing-field', typed(t.type, dataOf(t, { [rng.pick(required)]: undefined })));
      }
      if (roll === 1) {
        const extra = rng.pick(['__proto__', 'constructor', 'prototype', 'extra', 'x'.repeat(64)]);
        return text('unknown-field', typed(t.type, dataOf(t, { [extra]: '{"polluted":true}' })));
      }
      if (roll === 2 && f.required)
        return text('null-required', typed(t.type, dataOf(t, { [field]: 'null' })));
      return text(`wrong-type:${t.type}`, typed(t.type, dataOf(t, { [field]: rng.pick(wrongFor(f.kind)) })));
    }
    case 7: {
      const type = rng.pick([
        () => `fuzz.${rng.ascii(1 + rng.int(40))}`,
        () => 'hello',
        () => 'ack',
        () => 'error',
        () => '__proto__',
        () => 'constructor',
        () => 'toString',
        () => 'x'.repeat(64),
      ])();
      return text('unknown-type', typed(type, '{}'));
    }
    case 8: {
      const type = rng.pick(['5', '""', '[]', '{}', 'null', 'true', `"${'x'.repeat(65)}"`, '1e400']);
      return text('bad-type', `{"type":${type},"id":"${id}"}`);
    }
    case 9: {
      const badId = rng.pick([
        '5',
        '""',
        '[]',
        '{}',
        'true',
        'null',
        `"${'i'.repeat(65)}"`,
        `"${'i'.repeat(20_000)}"`,
        ...HUGE_NUMBERS,
      ]);
      return text('bad-id', `{"type":"ping","id":${badId}}`);
    }
    case 10: {
      const data = rng.pick(['[]', '"x"', '5', 'true', '[{}]', '{"unexpected":1}']);
      return text('bad-data', `{"type":"ping","id":"${id}","data":${data}}`);
    }
    default: {
      // Requests that are well formed but refused: rooms one is not in, devices that don't exist.
      // (Not a recall of an unknown message: the server looks for it for a second, in case
      // the writer has not stored it yet, which would only slow the storm down.)
      const body = rng.pick([
        typed('room.leave', '{"room_id":"NOTMINE1"}'),
        typed('message.send', '{"room_id":"NOTMINE1","kind":"text","content":"x"}'),
        typed('message.send', '{"kind":"text","content":"x"}'),
        typed(
          'message.send',
          '{"room_id":"NOTMINE1","to_device_id":"fuzz-peer","kind":"text","content":"x"}',
        ),
        typed('message.read', '{"room_id":"NOTMINE1"}'),
        typed('typing', '{"state":"start"}'),
        typed('ping', '{"x":1}'),
      ]);
      return text('refused', body);
    }
  }
}

/**
 * A masked client frame built by hand, to write on a socket the `ws` client no longer lets
 * one send on (after its close frame).
 */
export function rawClientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const header =
    len < 126
      ? Buffer.from([0x80 | opcode, 0x80 | len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLength(len)]);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

function bigLength(len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(len));
  return b;
}

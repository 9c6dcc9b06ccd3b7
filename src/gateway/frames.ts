import { isUtf8 } from 'node:buffer';
import { REQUEST_ID_MAX_LENGTH } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';

/** A text frame after envelope checks: a typed request, or a typeless room-manager frame. */
export type ParsedFrame =
  | { kind: 'typed'; type: string; id?: string; data: Record<string, unknown>; raw: Record<string, unknown> }
  | { kind: 'typeless'; raw: Record<string, unknown> };

export class FrameError extends RoomcastError {
  constructor(
    message: string,
    readonly id?: string,
  ) {
    super('BAD_REQUEST', message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The text of a text frame. ws's own UTF-8 check is off (RoomcastWsAdapter) because it closes
 * the socket with 1007; here an invalid frame is refused like any other bad frame.
 */
export function decodeText(payload: Buffer): string {
  if (!isUtf8(payload)) throw new FrameError('frame is not valid UTF-8');
  return payload.toString('utf8');
}

/**
 * Checks the envelope of a text frame: a JSON object nesting at most `maxDepth` levels (the
 * frame itself is level 1); `type` a non-empty string when present; `id` a string of 1–64
 * characters; `data` an object. Throws FrameError (BAD_REQUEST),
 * carrying the id when it could be read, so the error can be correlated.
 */
export function parseFrame(text: string, maxDepth: number): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FrameError('frame is not valid JSON');
  }
  if (!isObject(raw)) throw new FrameError('frame must be a JSON object');
  const { type, id, data } = raw;
  const validId = typeof id === 'string' && id.length >= 1 && id.length <= REQUEST_ID_MAX_LENGTH;
  if (id !== undefined && !validId)
    throw new FrameError(`id must be a string of 1-${REQUEST_ID_MAX_LENGTH} characters`);
  const reqId = validId ? id : undefined;
  if (nestsDeeperThan(raw, maxDepth))
    throw new FrameError(`frame nests deeper than ${maxDepth} levels (FRAME_MAX_DEPTH)`, reqId);
  if (type === undefined) return { kind: 'typeless', raw };
  if (typeof type !== 'string' || type.length === 0 || type.length > 64)
    throw new FrameError('type must be a non-empty string', reqId);
  if (data !== undefined && !isObject(data)) throw new FrameError('data must be an object', reqId);
  return { kind: 'typed', type, id: reqId, data: data ?? {}, raw };
}

/**
 * Whether objects and arrays in `value` nest more than `limit` levels, walked without
 * recursion: the DTO transform downstream recurses per level, and a 64 KiB frame can nest
 * 30,000 levels, enough to overflow the stack.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

import { ErrorCode, type MessageKind } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';

export interface ContentLimits {
  TEXT_MAX_CHARS: number;
  CONTENT_MAX_BYTES: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const tooLarge = (message: string) => new RoomcastError(ErrorCode.PAYLOAD_TOO_LARGE, message);

/**
 * Per-kind shape and size of `content`. The server stores metadata, never files: `image`
 * and `file` carry a URL and optional name/size/mime.
 */
export function validateContent(kind: MessageKind, content: unknown, limits: ContentLimits): void {
  if (content === undefined) throw RoomcastError.badRequest('content is required');
  const bytes = Buffer.byteLength(JSON.stringify(content));
  if (bytes > limits.CONTENT_MAX_BYTES) {
    throw tooLarge(`content is ${bytes} bytes; the limit is ${limits.CONTENT_MAX_BYTES}`);
  }
  switch (kind) {
    case 'text':
      if (typeof content !== 'string' || content.length === 0) {
        throw RoomcastError.badRequest('text content must be a non-empty string');
      }
      if (content.length > limits.TEXT_MAX_CHARS) {
        throw tooLarge(`text is ${content.length} characters; the limit is ${limits.TEXT_MAX_CHARS}`);
      }
      return;
    case 'image':
    case 'file':
      if (!isObject(content) || typeof content.url !== 'string' || content.url.length === 0) {
        throw RoomcastError.badRequest(`${kind} content must be an object with a url`);
      }
      for (const field of ['name', 'mime'] as const) {
        if (content[field] !== undefined && typeof content[field] !== 'string') {
          throw RoomcastError.badRequest(`${kind} content.${field} must be a string`);
        }
      }
      if (
        content.size !== undefined &&
        !(Number.isSafeInteger(content.size) && (content.size as number) >= 0)
      ) {
        throw RoomcastError.badRequest(`${kind} content.size must be a non-negative integer`);
      }
      return;
    case 'custom':
      return;
  }
}

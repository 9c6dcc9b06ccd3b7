import type { MessageKind } from '#protocol';
import { RoomcastError } from '../common/roomcast-error.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Per-kind shape of `content`. The server stores metadata, never files: `image` and `file`
 * carry a URL and optional name/size/mime.
 */
export function validateContent(kind: MessageKind, content: unknown): void {
  switch (kind) {
    case 'text':
      if (typeof content !== 'string' || content.length === 0)
        throw RoomcastError.badRequest('text content must be a non-empty string');
      return;
    case 'image':
    case 'file': {
      if (!isObject(content) || typeof content.url !== 'string' || content.url.length === 0) {
        throw RoomcastError.badRequest(`${kind} content must be an object with a url`);
      }
      if (content.name !== undefined && typeof content.name !== 'string')
        throw RoomcastError.badRequest(`${kind} content.name must be a string`);
      if (content.mime !== undefined && typeof content.mime !== 'string')
        throw RoomcastError.badRequest(`${kind} content.mime must be a string`);
      if (
        content.size !== undefined &&
        !(Number.isSafeInteger(content.size) && (content.size as number) >= 0)
      ) {
        throw RoomcastError.badRequest(`${kind} content.size must be a non-negative integer`);
      }
      return;
    }
    case 'custom':
      if (content === undefined) throw RoomcastError.badRequest('custom content is required');
      return;
  }
}

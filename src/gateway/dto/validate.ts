import { createRequire } from 'node:module';
import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { RoomcastError } from '../../common/roomcast-error.js';

/**
 * class-transformer's decorator metadata, by kind and class: the storage plainToInstance
 * reads (its `cjs/storage` entry point, as @nestjs/mapped-types reads it too).
 */
const { defaultMetadataStorage } = createRequire(import.meta.url)('class-transformer/cjs/storage') as {
  defaultMetadataStorage: Record<string, Map<unknown, unknown>>;
};
const TRANSFORMER_METADATA = [
  '_typeMetadatas',
  '_transformMetadatas',
  '_exposeMetadatas',
  '_excludeMetadatas',
];
const transformed = new WeakMap<Type, boolean>();

/** Whether the DTO or a parent class has a class-transformer decorator (@Type, @Transform, @Expose, @Exclude). */
function usesTransformer(dto: Type): boolean {
  let known = transformed.get(dto);
  if (known === undefined) {
    known = false;
    for (let at: object = dto; !known && at !== Function.prototype; at = Object.getPrototypeOf(at) as object)
      known = TRANSFORMER_METADATA.some((kind) => defaultMetadataStorage[kind].has(at));
    transformed.set(dto, known);
  }
  return known;
}

function describe(errors: ValidationError[], path = ''): string[] {
  return errors.flatMap((e) => {
    const at = path ? `${path}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) =>
      m.startsWith(e.property) ? `${path ? `${path}.` : ''}${m}` : `${at}: ${m}`,
    );
    return [...own, ...describe(e.children ?? [], at)];
  });
}

/**
 * Keys JSON.parse keeps as own properties that class-transformer skips or turns into the
 * prototype, so the whitelist never sees them: refused here like any other unknown field.
 */
const HIDDEN_KEYS = ['__proto__', 'constructor'];

/** Validates `data` into an instance of `dto` (unknown fields refused), or throws BAD_REQUEST naming each problem. */
export function validateData<T extends object>(dto: Type<T>, data: Record<string, unknown>): T {
  const hidden = HIDDEN_KEYS.filter((key) => Object.hasOwn(data, key));
  if (hidden.length)
    throw RoomcastError.badRequest(hidden.map((key) => `property ${key} should not exist`).join('; '));
  // Without decorators plainToInstance would only copy: it walks every nested value, and for
  // a message's content that costs four times its JSON.parse.
  const instance = usesTransformer(dto) ? plainToInstance(dto, data) : Object.assign(new dto(), data);
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  if (errors.length) throw RoomcastError.badRequest(describe(errors).join('; '));
  return instance;
}

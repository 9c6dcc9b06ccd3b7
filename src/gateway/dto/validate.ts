import type { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { RoomcastError } from '../../common/roomcast-error.js';

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
  const instance = plainToInstance(dto, data);
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  if (errors.length) throw RoomcastError.badRequest(describe(errors).join('; '));
  return instance;
}

import 'reflect-metadata';
import { getMetadataStorage, IsInt, IsOptional, IsString, Length, Min, validateSync } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { cacheValidationMetadata } from './validation-metadata-cache.js';

class Base {
  @IsString()
  name: string;
}

class Child extends Base {
  @IsInt()
  @Min(1)
  count: number;

  @IsOptional({ always: true })
  @IsString({ groups: ['strict'] })
  @Length(1, 3)
  note?: string;
}

const options = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true };

/** Each failing property with its constraint names, in a stable order. */
function problems(object: object, groups?: string[]): string[] {
  return validateSync(object, { ...options, groups })
    .map(
      (e) =>
        `${e.property}: ${Object.keys(e.constraints ?? {})
          .sort()
          .join(',')}`,
    )
    .sort();
}

const child = (fields: Partial<Child> & Record<string, unknown>) => Object.assign(new Child(), fields);

describe('cacheValidationMetadata', () => {
  const cases: Array<[Partial<Child> & Record<string, unknown>, string[]?]> = [
    [{ name: 'a', count: 1 }],
    [{ name: 1 as unknown as string, count: 0 }],
    [{ count: 2, extra: true }],
    [{ name: 'a', count: 1, note: 5 as unknown as string }, ['strict']],
    [{ name: 'a', count: 1, note: 'long' }, ['strict']],
  ];

  it('gives the same verdicts as without it, inherited and grouped rules included, and looks each class up once', () => {
    const before = cases.map(([fields, groups]) => problems(child(fields), groups));
    expect(before[0]).toEqual([]);
    expect(before[1]).toEqual(['count: min', 'name: isString']);
    expect(before[2]).toEqual(['extra: whitelistValidation', 'name: isString']);
    // Under a group only that group's rules apply: the others' properties are not whitelisted.
    const outsideGroup = ['count: whitelistValidation', 'name: whitelistValidation'];
    expect(before[3]).toEqual([...outsideGroup, 'note: isString']);
    expect(before[4]).toEqual(outsideGroup);

    cacheValidationMetadata();
    expect(cases.map(([fields, groups]) => problems(child(fields), groups))).toEqual(before);
    const storage = getMetadataStorage();
    const lookup = () => storage.getTargetValidationMetadatas(Child, '', false, false, undefined);
    expect(lookup()).toBe(lookup());
    expect(lookup()).not.toBe(storage.getTargetValidationMetadatas(Child, '', false, false, ['strict']));
  });

  it('sees rules added after a class was looked up, and classes defined later', () => {
    cacheValidationMetadata();
    expect(problems(child({ name: '', count: 1 }))).toEqual([]);
    Length(1, 10)(Base.prototype, 'name');
    expect(problems(child({ name: '', count: 1 }))).toEqual(['name: isLength']);

    class Later extends Child {
      @IsInt()
      more: number;
    }
    expect(problems(Object.assign(new Later(), { name: 'a', count: 1, more: 'x' }))).toEqual(['more: isInt']);
  });
});

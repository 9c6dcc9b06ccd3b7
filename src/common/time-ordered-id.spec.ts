import { validate, version } from 'uuid';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { timeOrderedId } from './time-ordered-id.js';

describe('timeOrderedId', () => {
  afterEach(() => vi.useRealTimers());

  it('makes distinct UUIDv7s that sort in the order they were made, within a millisecond too', () => {
    vi.useFakeTimers({ now: 1_764_000_000_000, toFake: ['Date'] });
    // More than one draw of random bytes, all in one millisecond.
    const ids = Array.from({ length: 1000 }, () => timeOrderedId());
    expect(ids.every((id) => validate(id) && version(id) === 7)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0].slice(0, 13)).toBe('019ab697-e800'); // the time, in ms, up front
  });

  it('stays ordered when the clock moves on, or back', () => {
    vi.useFakeTimers({ now: 1_764_000_000_000, toFake: ['Date'] });
    const first = timeOrderedId();
    vi.setSystemTime(1_764_000_000_005);
    const later = timeOrderedId();
    vi.setSystemTime(1_763_999_999_000);
    const afterStepBack = timeOrderedId();
    expect([first, later, afterStepBack].sort()).toEqual([first, later, afterStepBack]);
    expect(later.slice(0, 13)).not.toBe(first.slice(0, 13));
  });
});

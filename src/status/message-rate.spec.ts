import { describe, expect, it } from 'vitest';
import { MessageRate } from './message-rate.js';

describe('MessageRate', () => {
  it('counts the messages of the last 60 seconds', () => {
    const rate = new MessageRate();
    const t0 = 1_700_000_000_000;
    rate.record(t0);
    rate.record(t0 + 500);
    rate.record(t0 + 30_000);
    expect(rate.perMinute(t0 + 30_000)).toBe(3);
    // t0's second leaves the window 60 s later; the message at +30 s stays.
    expect(rate.perMinute(t0 + 60_000)).toBe(1);
    expect(rate.perMinute(t0 + 90_000)).toBe(0);
  });

  it('reuses a bucket for a later second instead of adding to it', () => {
    const rate = new MessageRate();
    const t0 = 1_700_000_000_000;
    rate.record(t0);
    rate.record(t0 + 60_000); // same bucket, one minute later
    expect(rate.perMinute(t0 + 60_000)).toBe(1);
  });

  it('is zero before any message', () => {
    expect(new MessageRate().perMinute()).toBe(0);
  });
});

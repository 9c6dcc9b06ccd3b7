import { describe, expect, it } from 'vitest';
import { SingleFlight } from './single-flight.js';

describe('SingleFlight', () => {
  it('shares a running key’s outcome, keeps keys apart, and starts afresh once it settled', async () => {
    const flight = new SingleFlight<string>();
    let runs = 0;
    const work = (value: string) => async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return value;
    };
    const a1 = flight.run('a', work('first'));
    const a2 = flight.run('a', work('second'));
    const b = flight.run('b', work('other'));
    expect([a1.first, a2.first, b.first]).toEqual([true, false, true]);
    expect(await Promise.all([a1.outcome, a2.outcome, b.outcome])).toEqual(['first', 'first', 'other']);
    expect(runs).toBe(2);
    expect(await flight.run('a', work('third')).outcome).toBe('third');
    expect(runs).toBe(3);
  });

  it('shares a failure too, and a failed key can be tried again', async () => {
    const flight = new SingleFlight<number>();
    const failing = flight.run('k', () => Promise.reject(new Error('down')));
    const waiting = flight.run('k', () => Promise.resolve(1));
    await expect(failing.outcome).rejects.toThrow('down');
    await expect(waiting.outcome).rejects.toThrow('down');
    expect(await flight.run('k', () => Promise.resolve(2)).outcome).toBe(2);
  });
});

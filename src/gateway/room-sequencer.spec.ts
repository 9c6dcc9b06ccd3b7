import { afterEach, describe, expect, it, vi } from 'vitest';
import { RoomSequencer } from './room-sequencer.js';

describe('RoomSequencer', () => {
  afterEach(() => vi.useRealTimers());

  const recorder = () => {
    const delivered: number[] = [];
    return { delivered, at: (seq: number) => () => delivered.push(seq) };
  };

  it('holds a message that arrives ahead of a missing seq until the gap fills', async () => {
    const seq = new RoomSequencer(1000);
    const { delivered, at } = recorder();
    seq.open('R', Promise.resolve(4));
    await Promise.resolve();
    for (const s of [6, 7, 5, 9, 8]) seq.push('R', s, at(s));
    expect(delivered).toEqual([5, 6, 7, 8, 9]);
    expect(seq.waiting).toBe(0);
  });

  it('holds everything until the room seq is known, then delivers what is older at once', async () => {
    const seq = new RoomSequencer(1000);
    const { delivered, at } = recorder();
    let resolve!: (n: number) => void;
    seq.open('R', new Promise<number>((r) => (resolve = r)));
    for (const s of [3, 5, 2]) seq.push('R', s, at(s));
    expect(delivered).toEqual([]);
    resolve(3); // 2 and 3 were published before this node listened; 4 is still on its way
    await Promise.resolve();
    await Promise.resolve();
    expect(delivered).toEqual([2, 3]);
    seq.push('R', 4, at(4));
    expect(delivered).toEqual([2, 3, 4, 5]);
  });

  it('gives up on a gap after the wait and moves on in order; a late one is still delivered', async () => {
    vi.useFakeTimers();
    const seq = new RoomSequencer(500);
    const { delivered, at } = recorder();
    seq.open('R', Promise.resolve(0));
    await vi.advanceTimersByTimeAsync(0);
    seq.push('R', 1, at(1));
    seq.push('R', 3, at(3));
    seq.push('R', 4, at(4));
    expect(delivered).toEqual([1]);
    expect(seq.waiting).toBe(2);
    await vi.advanceTimersByTimeAsync(499);
    expect(delivered).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(delivered).toEqual([1, 3, 4]);
    seq.push('R', 2, at(2));
    expect(delivered).toEqual([1, 3, 4, 2]);
  });

  it('passes messages of rooms it does not order straight through, and forgets closed rooms', async () => {
    const seq = new RoomSequencer(1000);
    const { delivered, at } = recorder();
    seq.push('X', 7, at(7));
    seq.open('R', Promise.resolve(0));
    await Promise.resolve();
    seq.push('R', 2, at(2));
    seq.close('R');
    seq.push('R', 3, at(3));
    expect(delivered).toEqual([7, 3]);
    expect(seq.waiting).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { RoomFanout } from './room-fanout.js';

/** A fan-out whose deferred slices run only when the test says so. */
function manual(sliceSize: number) {
  const deferred: Array<() => void> = [];
  const writes: string[] = [];
  const fanout = new RoomFanout<string>(sliceSize, (next) => deferred.push(next));
  const turn = () => deferred.splice(0).forEach((next) => next());
  const send = (room: string, message: string, recipients: string[]) =>
    fanout.push(room, recipients, (r) => writes.push(`${message}>${r}`));
  return { fanout, writes, turn, send, deferred };
}

const members = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);

describe('RoomFanout', () => {
  it('writes a broadcast that fits in one slice at once', () => {
    const { writes, send, deferred, fanout } = manual(3);
    send('R', 'm1', members(3));
    expect(writes).toEqual(['m1>s0', 'm1>s1', 'm1>s2']);
    expect(deferred).toHaveLength(0);
    expect(fanout.pending).toBe(0);
  });

  it('writes a large room one slice per event-loop turn', () => {
    const { writes, send, turn } = manual(2);
    send('R', 'm1', members(5));
    expect(writes).toEqual(['m1>s0', 'm1>s1']);
    turn();
    expect(writes).toHaveLength(4);
    turn();
    expect(writes).toEqual(['m1>s0', 'm1>s1', 'm1>s2', 'm1>s3', 'm1>s4']);
  });

  it('finishes message N for every member before message N+1 starts, per room', () => {
    const { writes, send, turn, fanout } = manual(2);
    send('R', 'm1', members(3));
    send('R', 'm2', members(3));
    send('R', 'm3', members(1));
    // m2 waits behind m1 although m1's first slice is done.
    expect(writes).toEqual(['m1>s0', 'm1>s1']);
    while (fanout.pending > 0) turn();
    expect(writes).toEqual(['m1>s0', 'm1>s1', 'm1>s2', 'm2>s0', 'm2>s1', 'm2>s2', 'm3>s0']);
    // Each socket saw the messages in order.
    for (const s of members(3)) {
      const seen = writes.filter((w) => w.endsWith(`>${s}`)).map((w) => w.split('>')[0]);
      expect(seen).toEqual(['m1', 'm2', 'm3'].slice(0, s === 's0' ? 3 : 2));
    }
  });

  it('does not hold one room behind another', () => {
    const { writes, send } = manual(2);
    send('BIG', 'b1', members(10));
    send('SMALL', 'x1', ['t0']);
    expect(writes).toEqual(['b1>s0', 'b1>s1', 'x1>t0']);
  });

  it('runs a real 10,000-member broadcast to the end through setImmediate', async () => {
    const fanout = new RoomFanout<number>(500);
    const seen: number[] = [];
    const others: string[] = [];
    fanout.push(
      'R',
      Array.from({ length: 10_000 }, (_, i) => i),
      (i) => seen.push(i),
    );
    // Work queued after the broadcast runs before it ends: the broadcast yields.
    setImmediate(() => others.push(`at ${seen.length}`));
    while (fanout.pending > 0) await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(10_000);
    expect(seen[9999]).toBe(9999);
    expect(others).toHaveLength(1);
    expect(Number(others[0].slice(3))).toBeLessThan(10_000);
  });
});

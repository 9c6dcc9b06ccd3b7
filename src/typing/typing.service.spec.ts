import type { ServerEventMap } from '#protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveDelivery } from '../common/live-delivery.js';
import type { AppConfig } from '../config/app-config.js';
import { TypingService, type TypingState } from './typing.service.js';

interface Sent {
  at: number;
  to: string;
  except?: string;
  data: ServerEventMap['typing'];
}

/** Records what would reach clients, with the (fake) time it was sent. */
class RecordingDelivery extends LiveDelivery {
  readonly sent: Sent[] = [];
  async toDevice<T extends keyof ServerEventMap>(
    deviceId: string,
    _type: T,
    data: ServerEventMap[T],
  ): Promise<boolean> {
    this.sent.push({ at: Date.now(), to: `device:${deviceId}`, data: data as ServerEventMap['typing'] });
    return true;
  }
  async toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    _type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): Promise<void> {
    this.sent.push({
      at: Date.now(),
      to: `room:${roomId}`,
      except: exceptSessionId,
      data: data as ServerEventMap['typing'],
    });
  }
}

const INTERVAL = 500;
const ann = { deviceId: 'ann', identity: 'Ann', sessionId: 's-ann' };
const bob = { deviceId: 'bob', identity: 'Bob', sessionId: 's-bob' };
const room = { roomId: 'R1' };

function setup(interval = INTERVAL) {
  const live = new RecordingDelivery();
  const typing = new TypingService({ TYPING_INTERVAL_MS: interval } as AppConfig, live);
  const states = (to = 'room:R1', from = 'ann') =>
    live.sent.filter((s) => s.to === to && s.data.from.device_id === from).map((s) => s.data.state);
  return { live, typing, states };
}

describe('TypingService (coalescer)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first signal at once, to the room except the sender, with its identity', () => {
    const { typing, live } = setup();
    typing.signal(ann, room, 'start');
    expect(live.sent).toEqual([
      {
        at: 1_000_000,
        to: 'room:R1',
        except: 's-ann',
        data: { room_id: 'R1', from: { device_id: 'ann', identity: 'Ann' }, state: 'start' },
      },
    ]);
  });

  it('merges a burst into at most one event per window, the trailing stop included', () => {
    const { typing, live, states } = setup();
    // 20 signals in 300 ms, alternating, ending with stop.
    for (let i = 0; i < 20; i++) {
      typing.signal(ann, room, i % 2 === 0 ? 'start' : 'stop');
      vi.advanceTimersByTime(15);
    }
    expect(states()).toEqual(['start']);
    vi.advanceTimersByTime(INTERVAL);
    expect(states()).toEqual(['start', 'stop']);
    expect(live.sent[1].at - live.sent[0].at).toBe(INTERVAL);
    vi.advanceTimersByTime(10 * INTERVAL);
    expect(states()).toEqual(['start', 'stop']);
    expect(typing.size).toBe(0);
  });

  it('sends nothing at the window end when the latest state is the one already sent', () => {
    const { typing, states } = setup();
    typing.signal(ann, room, 'start');
    typing.signal(ann, room, 'stop');
    typing.signal(ann, room, 'start');
    vi.advanceTimersByTime(INTERVAL);
    expect(states()).toEqual(['start']);
    expect(typing.size).toBe(0);
    // The window is closed: the next signal goes at once.
    typing.signal(ann, room, 'stop');
    expect(states()).toEqual(['start', 'stop']);
  });

  it('keeps the rate bound across windows while signals keep coming', () => {
    const { typing, live } = setup();
    // A signal every 50 ms for 3 s, flipping each time.
    for (let t = 0; t < 3000; t += 50) {
      typing.signal(ann, room, (t / 50) % 2 === 0 ? 'start' : 'stop');
      vi.advanceTimersByTime(50);
    }
    vi.advanceTimersByTime(5 * INTERVAL);
    const times = live.sent.map((s) => s.at);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(INTERVAL);
    expect(times.length).toBeLessThanOrEqual(3000 / INTERVAL + 1);
    // The last signal (t = 2950) was a stop, and it arrived.
    expect(live.sent.at(-1)!.data.state).toBe('stop');
    expect(typing.size).toBe(0);
  });

  it('coalesces each sender and target on its own', () => {
    const { typing, states } = setup();
    typing.signal(ann, room, 'start');
    typing.signal(bob, room, 'start');
    typing.signal(ann, { roomId: 'R2' }, 'start');
    typing.signal(ann, { toDeviceId: 'bob' }, 'start');
    expect(states()).toEqual(['start']);
    expect(states('room:R1', 'bob')).toEqual(['start']);
    expect(states('room:R2')).toEqual(['start']);
    expect(states('device:bob')).toEqual(['start']);
    expect(typing.size).toBe(4);
  });

  it('sends peer typing to the device, without room_id', () => {
    const { typing, live } = setup();
    typing.signal(ann, { toDeviceId: 'bob' }, 'start');
    typing.signal(ann, { toDeviceId: 'bob' }, 'stop');
    vi.advanceTimersByTime(INTERVAL);
    expect(live.sent.map((s) => [s.to, s.data])).toEqual([
      ['device:bob', { from: { device_id: 'ann', identity: 'Ann' }, state: 'start' }],
      ['device:bob', { from: { device_id: 'ann', identity: 'Ann' }, state: 'stop' }],
    ]);
  });

  it('drops the pending state of a sender that left the room', () => {
    const { typing, states } = setup();
    typing.signal(ann, room, 'start');
    typing.signal(ann, room, 'stop');
    typing.onLeft({ roomId: 'R1', deviceId: 'ann', identity: 'Ann', sessionId: 's-ann' });
    vi.advanceTimersByTime(INTERVAL);
    expect(states()).toEqual(['start']);
    expect(typing.size).toBe(0);
  });

  it('does not coalesce with TYPING_INTERVAL_MS=0', () => {
    const { typing, states } = setup(0);
    const burst: TypingState[] = ['start', 'stop', 'start'];
    for (const state of burst) typing.signal(ann, room, state);
    expect(states()).toEqual(burst);
    expect(typing.size).toBe(0);
  });

  it('forgets every window on shutdown', () => {
    const { typing, states } = setup();
    typing.signal(ann, room, 'start');
    typing.signal(ann, room, 'stop');
    typing.onModuleDestroy();
    vi.advanceTimersByTime(INTERVAL);
    expect(states()).toEqual(['start']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

import { RoomcastWaitError } from './errors.js';

/** One event as the client received it. */
export interface ReceivedEvent<K extends string = string, D = unknown> {
  type: K;
  data: D;
  /** The frame's `id`, on events that answer a request (`room_info`) and on unmatched `ack`/`error`. */
  id?: string;
  /** Date.now() on arrival. */
  at: number;
}

interface Waiter {
  match: (event: ReceivedEvent) => boolean;
  resolve: (event: ReceivedEvent) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Unconsumed events, oldest first, so that a test can wait for an event that may already have
 * arrived. Each event is handed to at most one waiter (`take`/`wait`), so consecutive waits see
 * consecutive events. Bounded: past `limit`, the oldest unconsumed event is dropped.
 */
export class Mailbox {
  private events: ReceivedEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private closedReason: string | undefined;

  constructor(private readonly limit: number) {}

  /** Delivers to the first matching waiter, else keeps the event. */
  push(event: ReceivedEvent): void {
    const i = this.waiters.findIndex((w) => w.match(event));
    if (i >= 0) {
      const [waiter] = this.waiters.splice(i, 1);
      clearTimeout(waiter.timer);
      waiter.resolve(event);
      return;
    }
    if (this.limit <= 0) return;
    this.events.push(event);
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }

  /** Removes and returns the oldest matching event. */
  take(match: (event: ReceivedEvent) => boolean): ReceivedEvent | undefined {
    const i = this.events.findIndex(match);
    return i >= 0 ? this.events.splice(i, 1)[0] : undefined;
  }

  /** Removes and returns every matching event. */
  takeAll(match: (event: ReceivedEvent) => boolean): ReceivedEvent[] {
    const taken: ReceivedEvent[] = [];
    this.events = this.events.filter((e) => (match(e) ? (taken.push(e), false) : true));
    return taken;
  }

  /** Puts events back at the front (a `collect` that failed half-way gives back what it took). */
  requeue(events: ReceivedEvent[]): void {
    this.events.unshift(...events);
  }

  wait(match: (event: ReceivedEvent) => boolean, timeoutMs: number, what: string): Promise<ReceivedEvent> {
    const found = this.take(match);
    if (found) return Promise.resolve(found);
    if (this.closedReason !== undefined) {
      return Promise.reject(new RoomcastWaitError(`${what}: ${this.closedReason}`, 'closed'));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(
            new RoomcastWaitError(`${what}: timed out after ${timeoutMs} ms (${this.describe()})`, 'timeout'),
          );
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** The socket closed: no event will come, so every waiter fails now instead of at its timeout. */
  /** Waits for `count` matching events, in arrival order; on failure, none is consumed. */
  async collect(
    match: (event: ReceivedEvent) => boolean,
    count: number,
    timeoutMs: number,
    what: string,
  ): Promise<ReceivedEvent[]> {
    const deadline = Date.now() + timeoutMs;
    const got: ReceivedEvent[] = [];
    try {
      while (got.length < count) {
        got.push(await this.wait(match, Math.max(0, deadline - Date.now()), `${what} after ${got.length}`));
      }
    } catch (err) {
      this.requeue(got);
      throw err;
    }
    return got;
  }

  close(reason: string): void {
    this.closedReason = reason;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new RoomcastWaitError(`socket closed while waiting (${reason})`, 'closed'));
    }
  }

  /** What is buffered, by type: helps to read a failed wait. */
  describe(): string {
    if (this.events.length === 0) return 'no unconsumed events';
    const counts = new Map<string, number>();
    for (const e of this.events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
    return `unconsumed: ${[...counts].map(([t, n]) => `${n} ${t}`).join(', ')}`;
  }
}

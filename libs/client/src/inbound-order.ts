import type { MessagePayload } from '#protocol';

/** Room messages that will not arrive: seqs `from_seq..to_seq` of `room_id` were skipped. */
export interface GapInfo {
  room_id: string;
  from_seq: number;
  to_seq: number;
}

interface RoomState {
  /** Highest seq handed to the application; undefined until the first message or a baseline. */
  delivered?: number;
  /** Messages ahead of `delivered + 1`, waiting for the ones before them. */
  held: Map<number, { data: MessagePayload }>;
  /** Why messages of the room are held back (a replay or a join in progress); empty: deliver. */
  holds: Set<string>;
}

/**
 * Exactly-once, in-order delivery of the `message` events of a session that spans several
 * sockets (ReconnectingClient).
 *
 * - Room messages (with `room_id` and `seq`): a seq at or below the highest one delivered is a
 *   duplicate (a replay overlapping live delivery) and is dropped. A seq beyond the next one is
 *   held while something that may still fill the hole is in progress (a resume replay, a join,
 *   a fetch started by `fill`); otherwise, or when that ends, the hole is reported with `onGap`
 *   and delivery goes on.
 * - Direct messages (no `seq`) are de-duplicated by `message_id` within a window of the last
 *   `window` ids (offline items delivered again after a reconnect).
 */
export class InboundOrder<E extends { data: MessagePayload }> {
  /** Dropped duplicates, for diagnostics. */
  duplicates = 0;
  private readonly rooms = new Map<string, RoomState>();
  private readonly seen = new Set<string>();
  /** Set while flushing after a fill ended: holes left then are reported, not fetched again. */
  private final = false;

  /**
   * `fill` is asked about each hole found when nothing is held: it returns a hold reason when it
   * starts fetching the missing messages (the room is then held until `release(room, reason)`),
   * or undefined to report the hole at once.
   */
  constructor(
    private readonly deliver: (event: E) => void,
    private readonly onGap: (gap: GapInfo) => void,
    private readonly window: number,
    private readonly fill?: (gap: GapInfo) => string | undefined,
  ) {}

  /** Takes a `message` event: delivers it (and what it unblocks), holds it, or drops it. */
  accept(event: E): void {
    const m = event.data;
    if (typeof m.room_id === 'string' && typeof m.seq === 'number') {
      return this.acceptRoom(m.room_id, m.seq, event);
    }
    if (typeof m.message_id === 'string' && !this.firstTime(`m:${m.message_id}`)) {
      this.duplicates++;
      return;
    }
    this.deliver(event);
  }

  /** True the first time `key` is seen within the window (for events other than `message`). */
  firstTime(key: string): boolean {
    if (this.window <= 0) return true;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.window) this.seen.delete(this.seen.values().next().value!);
    return true;
  }

  /** Holds back out-of-order messages of the room until `release(room, reason)`. */
  hold(roomId: string, reason: string): void {
    this.state(roomId).holds.add(reason);
  }

  /**
   * Ends a hold. When none is left, the held messages are delivered in seq order (holes reported
   * as gaps, or fetched). `final`: the hold was a fetch; holes still left are reported, not
   * fetched again. Seqs that never came and are not followed by a held message stay pending: a
   * later message reveals them (a join's `last_seq` may count messages still on their way).
   */
  release(roomId: string, reason: string, final = false): void {
    const st = this.rooms.get(roomId);
    if (!st || !st.holds.delete(reason) || st.holds.size > 0) return;
    const outer = this.final;
    this.final = outer || final;
    try {
      this.flush(roomId, st);
    } finally {
      this.final = outer;
    }
  }

  /** Ends every hold and delivers what was held (the handshake finished). */
  releaseAll(): void {
    for (const [roomId, st] of this.rooms) {
      st.holds.clear();
      this.flush(roomId, st);
    }
  }

  /** Drops every hold without delivering (the socket was lost; a new handshake will replay). */
  clearHolds(): void {
    for (const st of this.rooms.values()) st.holds.clear();
  }

  /**
   * Sets where delivery of a room starts when nothing was delivered yet: messages up to `seq`
   * are history (a join acked with `last_seq`). Messages already held are kept.
   */
  baseline(roomId: string, seq: number): void {
    const st = this.state(roomId);
    if (st.delivered !== undefined) return;
    const first = st.held.size ? Math.min(...st.held.keys()) : Infinity;
    st.delivered = Math.min(seq, first - 1);
  }

  /** Forgets a room (left it): no resume, no de-duplication state. */
  forget(roomId: string): void {
    this.rooms.delete(roomId);
  }

  /** Highest seq delivered to the application for the room. */
  delivered(roomId: string): number | undefined {
    return this.rooms.get(roomId)?.delivered;
  }

  private acceptRoom(roomId: string, seq: number, event: E): void {
    const st = this.state(roomId);
    if ((st.delivered !== undefined && seq <= st.delivered) || st.held.has(seq)) {
      this.duplicates++;
      return;
    }
    if (st.holds.size > 0 && (st.delivered === undefined || seq !== st.delivered + 1)) {
      st.held.set(seq, event);
      return;
    }
    if (st.delivered !== undefined && seq > st.delivered + 1) {
      const gap = { room_id: roomId, from_seq: st.delivered + 1, to_seq: seq - 1 };
      const fetching = this.final ? undefined : this.fill?.(gap);
      if (fetching !== undefined) {
        st.holds.add(fetching);
        st.held.set(seq, event);
        return;
      }
      this.onGap(gap);
    }
    st.delivered = seq;
    this.deliver(event);
    this.drainConsecutive(st);
  }

  private drainConsecutive(st: RoomState): void {
    while (st.delivered !== undefined && st.held.has(st.delivered + 1)) {
      const next = st.held.get(st.delivered + 1)!;
      st.held.delete(st.delivered + 1);
      st.delivered += 1;
      this.deliver(next as E);
    }
  }

  private flush(roomId: string, st: RoomState): void {
    const seqs = [...st.held.keys()].sort((a, b) => a - b);
    const events = seqs.map((s) => st.held.get(s)!);
    st.held.clear();
    // A hole may start a fetch: the rest is then held again, behind it.
    for (const [i, seq] of seqs.entries()) this.acceptRoom(roomId, seq, events[i] as E);
  }

  private state(roomId: string): RoomState {
    let st = this.rooms.get(roomId);
    if (!st) this.rooms.set(roomId, (st = { held: new Map(), holds: new Set() }));
    return st;
  }
}

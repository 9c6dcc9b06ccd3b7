interface RoomOrder {
  /** The seq to deliver next; null until the room's current seq is known. */
  next: number | null;
  held: Map<number, () => void>;
  timer?: NodeJS.Timeout;
}

/**
 * Puts room messages back in seq order on this node. Messages of one room are numbered in
 * Redis by whichever node accepted them and reach the other nodes through pub/sub, so
 * seq 6 from one node can arrive before seq 5 from another. One that arrives ahead of a gap
 * is held until the gap fills, or for at most `waitMs` (the missing one may never come: its
 * node died, or its send failed), then delivery moves on in order. A message behind the
 * point reached is delivered at once: late beats lost.
 */
export class RoomSequencer {
  private readonly rooms = new Map<string, RoomOrder>();

  constructor(private readonly waitMs: number) {}

  /** Starts ordering a room from the seq after `current` (resolved once this node listens to it). */
  open(roomId: string, current: Promise<number>): void {
    if (this.rooms.has(roomId)) return;
    const order: RoomOrder = { next: null, held: new Map() };
    this.rooms.set(roomId, order);
    current.then(
      (seq) => this.start(roomId, order, seq + 1),
      () => this.start(roomId, order, Math.min(...order.held.keys(), Number.MAX_SAFE_INTEGER)),
    );
  }

  close(roomId: string): void {
    const order = this.rooms.get(roomId);
    if (!order) return;
    clearTimeout(order.timer);
    this.rooms.delete(roomId);
  }

  /** Delivers (calls `deliver`) in seq order. */
  push(roomId: string, seq: number, deliver: () => void): void {
    const order = this.rooms.get(roomId);
    if (!order || (order.next !== null && seq < order.next)) return deliver();
    order.held.set(seq, deliver);
    if (order.next !== null) this.flush(order);
  }

  /** Messages waiting for an earlier seq, over all rooms (a gauge for operators). */
  get waiting(): number {
    let n = 0;
    for (const order of this.rooms.values()) n += order.held.size;
    return n;
  }

  private start(roomId: string, order: RoomOrder, next: number): void {
    if (this.rooms.get(roomId) !== order) return;
    // What arrived before the room's seq was known and is not after it: already in order.
    for (const seq of [...order.held.keys()].sort((a, b) => a - b)) {
      if (seq >= next) break;
      order.held.get(seq)!();
      order.held.delete(seq);
    }
    order.next = next;
    this.flush(order);
  }

  private flush(order: RoomOrder): void {
    for (let deliver = order.held.get(order.next!); deliver; deliver = order.held.get(order.next!)) {
      order.held.delete(order.next!);
      order.next!++;
      deliver();
    }
    if (order.held.size === 0) {
      clearTimeout(order.timer);
      order.timer = undefined;
    } else if (!order.timer) {
      order.timer = setTimeout(() => {
        order.timer = undefined;
        // Give up on the gap: continue from the oldest message that did arrive.
        order.next = Math.min(...order.held.keys());
        this.flush(order);
      }, this.waitMs);
      order.timer.unref();
    }
  }
}

interface Broadcast<T> {
  recipients: T[];
  next: number;
  write: (recipient: T) => void;
}

/**
 * Writes one frame to many sockets in slices of `sliceSize`, yielding to the event loop
 * between slices, so a broadcast to a 10,000-member room does not stall every other room
 * and request. Broadcasts under one key (a room) run one after another: each recipient gets
 * message N before message N+1, the order seq promises. A broadcast on an idle key that fits
 * in one slice is written at once, as if there were no slicing.
 */
export class RoomFanout<T> {
  private readonly queues = new Map<string, Array<Broadcast<T>>>();

  constructor(
    private readonly sliceSize: number,
    private readonly defer: (next: () => void) => void = setImmediate,
  ) {}

  push(key: string, recipients: T[], write: (recipient: T) => void): void {
    const broadcast = { recipients, next: 0, write };
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(broadcast);
      return;
    }
    const started = [broadcast];
    this.queues.set(key, started);
    this.run(key, started);
  }

  /** Broadcasts waiting or under way, over all keys. */
  get pending(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  private run(key: string, queue: Array<Broadcast<T>>): void {
    let room = this.sliceSize;
    while (queue.length > 0 && room > 0) {
      const current = queue[0];
      const end = Math.min(current.recipients.length, current.next + room);
      room -= end - current.next;
      for (; current.next < end; current.next++) current.write(current.recipients[current.next]);
      if (current.next === current.recipients.length) queue.shift();
    }
    if (queue.length === 0) this.queues.delete(key);
    else this.defer(() => this.run(key, queue));
  }
}

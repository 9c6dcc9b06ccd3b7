import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { Lifecycle } from '../common/lifecycle-events.js';

const WINDOW_S = 60;

/**
 * Messages accepted by this node over the last minute (MessageCreated lifecycle events),
 * in one-second buckets: constant memory and O(1) per message, whatever the rate.
 */
@Injectable()
export class MessageRate {
  private readonly counts = new Array<number>(WINDOW_S).fill(0);
  /** The second each bucket currently counts. */
  private readonly seconds = new Array<number>(WINDOW_S).fill(-1);

  @OnEvent(Lifecycle.MessageCreated)
  onMessage(): void {
    this.record();
  }

  record(now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const i = second % WINDOW_S;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.counts[i] = 0;
    }
    this.counts[i]++;
  }

  /** Messages in the 60 seconds up to `now` (the current second included). */
  perMinute(now = Date.now()): number {
    const oldest = Math.floor(now / 1000) - WINDOW_S + 1;
    let total = 0;
    for (let i = 0; i < WINDOW_S; i++) if (this.seconds[i] >= oldest) total += this.counts[i];
    return total;
  }
}

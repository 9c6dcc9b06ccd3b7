import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { Lifecycle, type MembershipEvent } from '../common/lifecycle-events.js';
import { LiveDelivery } from '../common/live-delivery.js';
import { AppConfig } from '../config/app-config.js';

export type TypingState = 'start' | 'stop';

export interface Typist {
  deviceId: string;
  identity: string;
  /** Not sent its own room `typing` events. */
  sessionId: string;
}

/** Where a typing indicator goes: a room's other members, or one device. */
export type TypingTarget = { roomId: string } | { toDeviceId: string };

/** Open windows on this node; past it new senders' indicators are dropped (logged), not queued. */
export const MAX_TYPING_WINDOWS = 100_000;

/** One sender's indicator for one room or peer, while its window is open. */
interface Window {
  typist: Typist;
  target: TypingTarget;
  /** The state last sent to the others. */
  sent: TypingState;
  /** The latest state received during the window, if any. */
  latest?: TypingState;
  timer: NodeJS.Timeout;
}

const keyOf = (deviceId: string, target: TypingTarget) =>
  'roomId' in target
    ? `${deviceId}\u0000room:${target.roomId}`
    : `${deviceId}\u0000peer:${target.toDeviceId}`;

/**
 * Typing indicators: live only (never stored), and coalesced so that at most one `typing`
 * event per sender per room (or peer) per TYPING_INTERVAL_MS reaches the others. The first
 * signal goes at once and opens a window; signals inside the window only remember the latest
 * state, which is sent when the window ends if it differs from the one last sent (a trailing
 * `stop` is never lost) and then opens the next window. A window with nothing to send closes
 * and is forgotten, so memory holds only senders active in the last interval.
 */
@Injectable()
export class TypingService implements OnModuleDestroy {
  private readonly logger = new Logger(TypingService.name);
  private readonly windows = new Map<string, Window>();
  private droppedSinceLog = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly live: LiveDelivery,
  ) {}

  /** Open windows (senders × targets active in the last interval). */
  get size(): number {
    return this.windows.size;
  }

  signal(typist: Typist, target: TypingTarget, state: TypingState): void {
    const interval = this.config.TYPING_INTERVAL_MS;
    if (interval <= 0) return this.deliver(typist, target, state);
    const key = keyOf(typist.deviceId, target);
    const open = this.windows.get(key);
    if (open) {
      open.latest = state;
      open.typist = typist;
      return;
    }
    if (this.windows.size >= MAX_TYPING_WINDOWS) {
      if (this.droppedSinceLog++ === 0)
        this.logger.warn(`${MAX_TYPING_WINDOWS} typing windows open: dropping new typing indicators`);
      return;
    }
    this.deliver(typist, target, state);
    this.windows.set(key, { typist, target, sent: state, timer: this.timer(key, interval) });
  }

  /** A sender that left a room no longer tells it it is typing (its others saw presence.leave). */
  @OnEvent(Lifecycle.Left)
  onLeft(event: MembershipEvent): void {
    this.forget(keyOf(event.deviceId, { roomId: event.roomId }));
  }

  onModuleDestroy(): void {
    for (const window of this.windows.values()) clearTimeout(window.timer);
    this.windows.clear();
  }

  private timer(key: string, interval: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.windowEnded(key), interval);
    timer.unref();
    return timer;
  }

  private windowEnded(key: string): void {
    const window = this.windows.get(key);
    if (!window) return;
    if (window.latest === undefined || window.latest === window.sent) {
      this.forget(key);
      return;
    }
    this.deliver(window.typist, window.target, window.latest);
    window.sent = window.latest;
    window.latest = undefined;
    window.timer = this.timer(key, this.config.TYPING_INTERVAL_MS);
  }

  private forget(key: string): void {
    const window = this.windows.get(key);
    if (!window) return;
    clearTimeout(window.timer);
    this.windows.delete(key);
    if (this.droppedSinceLog > 0 && this.windows.size < MAX_TYPING_WINDOWS / 2) {
      this.logger.warn(`typing windows below the limit again; ${this.droppedSinceLog} indicator(s) dropped`);
      this.droppedSinceLog = 0;
    }
  }

  private deliver(typist: Typist, target: TypingTarget, state: TypingState): void {
    const from = { device_id: typist.deviceId, identity: typist.identity };
    if ('roomId' in target) {
      void this.live.toRoom(
        target.roomId,
        'typing',
        { room_id: target.roomId, from, state },
        typist.sessionId,
      );
    } else {
      void this.live.toDevice(target.toDeviceId, 'typing', { from, state });
    }
  }
}

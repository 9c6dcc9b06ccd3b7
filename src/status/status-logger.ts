import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { StatusService, type StatusSnapshot } from './status.service.js';

/** Jobs not yet finished: what an operator watches grow when the writers fall behind. */
const pending = (q: { waiting: number; active: number; delayed: number }) => q.waiting + q.active + q.delayed;

/** One line in `key=value` form, easy to grep and to parse. */
export function statusLine(s: StatusSnapshot): string {
  const queues = s.queues
    ? s.queues.map((q) => `queue.${q.name}=${pending(q)}`).join(' ')
    : `queues=unavailable(${s.queues_error ?? 'unknown'})`;
  return `connections=${s.connections} rooms=${s.rooms ?? 'unavailable'} messages/min=${s.messages_per_min} ${queues}`;
}

/** Logs the status line every STATUS_INTERVAL_MS (0 disables it). */
@Injectable()
export class StatusLogger implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Status');
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly config: AppConfig,
    private readonly status: StatusService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.STATUS_INTERVAL_MS <= 0) return;
    this.timer = setInterval(() => void this.logOnce(), this.config.STATUS_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Skips a tick while the previous one is still reading (a slow dependency never stacks them up). */
  async logOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.logger.log(statusLine(await this.status.snapshot()));
    } catch (err) {
      this.logger.warn(`status unavailable: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}

import { Injectable, Logger } from '@nestjs/common';
import { Gauge, Registry } from 'prom-client';
import { PresenceService } from '../presence/presence.service.js';

/** `roomcast_rooms`: rooms with at least one member, read from presence on each scrape. */
@Injectable()
export class RoomsMetrics {
  private readonly logger = new Logger('Metrics');

  constructor(registry: Registry, presence: PresenceService) {
    const logger = this.logger;
    new Gauge({
      name: 'roomcast_rooms',
      help: 'Rooms with at least one member',
      registers: [registry],
      async collect() {
        try {
          this.set((await presence.occupied()).size);
        } catch (err) {
          // A scrape must not fail because presence is unreachable; the series is dropped instead.
          this.reset();
          logger.debug(`roomcast_rooms not collected: ${(err as Error).message}`);
        }
      },
    });
  }
}

import { Injectable, OnModuleDestroy } from '@nestjs/common';

/**
 * Set when the application starts closing (the first shutdown hook phase, while HTTP still
 * answers): from then on the probes say 503, so a load balancer stops routing here while
 * the sockets are closed with 1001 and in-flight jobs finish.
 */
@Injectable()
export class ShutdownState implements OnModuleDestroy {
  private closing = false;

  get shuttingDown(): boolean {
    return this.closing;
  }

  onModuleDestroy(): void {
    this.closing = true;
  }
}

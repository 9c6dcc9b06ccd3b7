import { Global, Module } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One Prometheus registry per application instance, injectable as `Registry`. Modules
 * register their own metrics on it (so several apps in one process, as in tests, never
 * collide on prom-client's global registry).
 */
@Global()
@Module({
  providers: [
    {
      provide: Registry,
      useFactory: () => {
        const registry = new Registry();
        collectDefaultMetrics({ register: registry, prefix: 'roomcast_process_' });
        return registry;
      },
    },
  ],
  exports: [Registry],
})
export class MetricsModule {}

import { Global, Module } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { MetricsController } from './metrics.controller.js';
import { NodeLoad } from './node-load.js';
import { QueueMetrics } from './queue.metrics.js';

/**
 * One Prometheus registry per application instance, injectable as `Registry`. Modules
 * register their own metrics on it (so several apps in one process, as in tests, never
 * collide on prom-client's global registry). Served at GET /metrics (no admin token:
 * scrapers reach it on the internal network), with the queue gauges collected on scrape.
 * NodeLoad samples the node's load for /api/stats and the cluster heartbeat.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [
    {
      provide: Registry,
      useFactory: () => {
        const registry = new Registry();
        // Default names under our prefix: roomcast_process_cpu_seconds_total, roomcast_nodejs_eventloop_lag_seconds, ...
        collectDefaultMetrics({ register: registry, prefix: 'roomcast_' });
        return registry;
      },
    },
    QueueMetrics,
    NodeLoad,
  ],
  exports: [Registry, NodeLoad],
})
export class MetricsModule {}

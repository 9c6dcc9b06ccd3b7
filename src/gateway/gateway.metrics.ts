import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConnectionRegistry } from './connection-registry.js';

/**
 * The gateway's Prometheus metrics. Broadcasts count their recipients in one call, not one per
 * socket; the fan-out and latency histograms are observed once per room message per node.
 */
@Injectable()
export class GatewayMetrics {
  readonly framesIn: Counter<'type'>;
  readonly framesOut: Counter<'type'>;
  readonly handshakes: Counter<'outcome'>;
  readonly fanout: Histogram;
  readonly backpressure: Counter<'action'>;
  readonly deliveryLatency: Histogram;

  constructor(registry: Registry, connections: ConnectionRegistry) {
    new Gauge({
      name: 'roomcast_connections',
      help: 'Handshaken WebSocket connections on this node',
      registers: [registry],
      collect() {
        this.set(connections.size);
      },
    });
    new Gauge({
      name: 'roomcast_rooms_local',
      help: 'Rooms with at least one member connected to this node',
      registers: [registry],
      collect() {
        this.set(connections.roomCount());
      },
    });
    this.framesIn = new Counter({
      name: 'roomcast_frames_in_total',
      help: 'Frames received, by type',
      labelNames: ['type'],
      registers: [registry],
    });
    this.framesOut = new Counter({
      name: 'roomcast_frames_out_total',
      help: 'Frames sent, by type',
      labelNames: ['type'],
      registers: [registry],
    });
    this.handshakes = new Counter({
      name: 'roomcast_handshakes_total',
      help: 'Handshakes, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.backpressure = new Counter({
      name: 'roomcast_backpressure_actions_total',
      help: 'Frames skipped (dropped, dropped_volatile) and connections closed (disconnected) for clients over OUTBOUND_BUFFER_MAX_BYTES',
      labelNames: ['action'],
      registers: [registry],
    });
    this.fanout = new Histogram({
      name: 'roomcast_fanout_recipients',
      help: 'Sockets one room broadcast was written to on this node',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000],
      registers: [registry],
    });
    this.deliveryLatency = new Histogram({
      name: 'roomcast_delivery_latency_seconds',
      help: "From a room message being accepted (on any node) to its write to this node's sockets",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  }
}

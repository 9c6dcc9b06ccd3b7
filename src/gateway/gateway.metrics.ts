import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConnectionRegistry } from './connection-registry.js';

/** The gateway's Prometheus metrics. Broadcasts count their recipients in one call, not one per socket. */
@Injectable()
export class GatewayMetrics {
  readonly framesIn: Counter<'type'>;
  readonly framesOut: Counter<'type'>;
  readonly handshakes: Counter<'outcome'>;
  readonly fanout: Histogram;
  readonly backpressure: Counter<'action'>;

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
  }
}

import { Injectable } from '@nestjs/common';
import { AppConfig, type Role } from '../config/app-config.js';
import { SessionsService } from '../gateway/index.js';
import { JobQueue, type QueueCounts } from '../persistence/job-queue.js';
import type { QueueName } from '../persistence/job-registry.js';
import { PresenceService } from '../presence/presence.service.js';
import { MessageRate } from './message-rate.js';
import { singleFlight, withTimeout } from './with-timeout.js';

/** Longest a snapshot waits for the queue counts (Redis may be unreachable). */
export const QUEUE_COUNTS_TIMEOUT_MS = 1500;

export interface QueueDepth extends QueueCounts {
  name: QueueName;
}

export interface StatusSnapshot {
  node_id: string;
  mode: 'embedded' | 'redis';
  role: Role;
  uptime_s: number;
  /** Handshaken connections on this node. */
  connections: number;
  /** Rooms with at least one member. */
  rooms: number;
  /** Messages accepted by this node in the last minute. */
  messages_per_min: number;
  /** Jobs per queue and state; null when the queues could not be read in time. */
  queues: QueueDepth[] | null;
  queues_error?: string;
  memory: { rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number; external_bytes: number };
}

/** One consistent picture of the node, for /api/stats and the periodic status line. */
@Injectable()
export class StatusService {
  private readonly startedAt = Date.now();
  private readonly counts = singleFlight(() => this.jobs.counts());

  constructor(
    private readonly config: AppConfig,
    private readonly sessions: SessionsService,
    private readonly presence: PresenceService,
    private readonly jobs: JobQueue,
    private readonly rate: MessageRate,
  ) {}

  async snapshot(): Promise<StatusSnapshot> {
    const [occupied, queues] = await Promise.all([
      this.presence.occupied(),
      this.queueDepths().then(
        (depths) => ({ depths, error: undefined }),
        (err: Error) => ({ depths: null, error: err.message }),
      ),
    ]);
    const memory = process.memoryUsage();
    return {
      node_id: this.config.NODE_ID,
      mode: this.config.embedded ? 'embedded' : 'redis',
      role: this.config.ROLE,
      uptime_s: Math.floor((Date.now() - this.startedAt) / 1000),
      connections: this.sessions.connectionCount(),
      rooms: occupied.size,
      messages_per_min: this.rate.perMinute(),
      queues: queues.depths,
      ...(queues.error !== undefined ? { queues_error: queues.error } : {}),
      memory: {
        rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
        heap_total_bytes: memory.heapTotal,
        external_bytes: memory.external,
      },
    };
  }

  /** Job counts per queue, bounded by QUEUE_COUNTS_TIMEOUT_MS. */
  async queueDepths(): Promise<QueueDepth[]> {
    const counts = await withTimeout(this.counts(), QUEUE_COUNTS_TIMEOUT_MS, 'the job queues');
    return (Object.entries(counts) as Array<[QueueName, QueueCounts]>).map(([name, c]) => ({ name, ...c }));
  }
}

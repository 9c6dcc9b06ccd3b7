import { Injectable } from '@nestjs/common';
import { AppConfig, type Role } from '../config/app-config.js';
import { SessionsService } from '../gateway/index.js';
import { JobQueue, type QueueCounts } from '../persistence/job-queue.js';
import type { QueueName } from '../persistence/job-registry.js';
import { PresenceService } from '../presence/presence.service.js';
import type { NodeInfo } from '../presence/presence.store.js';
import { NodeLoad, type NodeLoadSample } from '../metrics/node-load.js';
import { MessageRate } from './message-rate.js';
import { singleFlight, withTimeout } from './with-timeout.js';

/** Longest a snapshot waits for the queue counts (Redis may be unreachable). */
export const QUEUE_COUNTS_TIMEOUT_MS = 1500;

export interface QueueDepth extends QueueCounts {
  name: QueueName;
}

export interface ClusterStatus {
  nodes: NodeInfo[];
  /** Handshaken connections on every node. */
  connections: number;
}

export interface StatusSnapshot {
  node_id: string;
  mode: 'embedded' | 'redis';
  role: Role;
  uptime_s: number;
  /** Handshaken connections on this node. */
  connections: number;
  /** Rooms with at least one member, cluster-wide (null: presence unreachable). */
  rooms: number | null;
  /** Messages accepted by this node in the last minute. */
  messages_per_min: number;
  /** Jobs per queue and state; null when the queues could not be read in time. */
  queues: QueueDepth[] | null;
  queues_error?: string;
  /** The cluster as presence sees it; null when it could not be read in time. */
  cluster: ClusterStatus | null;
  cluster_error?: string;
  /** This node's load over the last LOAD_WINDOW_MS (the cluster's rows carry each node's own). */
  load: NodeLoadSample;
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
    private readonly load: NodeLoad,
  ) {}

  async snapshot(): Promise<StatusSnapshot> {
    const [cluster, queues, load] = await Promise.all([
      this.cluster().then(
        (status) => ({ status, error: undefined }),
        (err: Error) => ({ status: null, error: err.message }),
      ),
      this.queueDepths().then(
        (depths) => ({ depths, error: undefined }),
        (err: Error) => ({ depths: null, error: err.message }),
      ),
      this.load.current(),
    ]);
    const memory = process.memoryUsage();
    return {
      node_id: this.config.NODE_ID,
      mode: this.config.embedded ? 'embedded' : 'redis',
      role: this.config.ROLE,
      uptime_s: Math.floor((Date.now() - this.startedAt) / 1000),
      connections: this.sessions.connectionCount(),
      rooms: cluster.status?.rooms ?? null,
      messages_per_min: this.rate.perMinute(),
      queues: queues.depths,
      ...(queues.error !== undefined ? { queues_error: queues.error } : {}),
      cluster: cluster.status && { nodes: cluster.status.nodes, connections: cluster.status.connections },
      ...(cluster.error !== undefined ? { cluster_error: cluster.error } : {}),
      load,
      memory: {
        rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
        heap_total_bytes: memory.heapTotal,
        external_bytes: memory.external,
      },
    };
  }

  private cluster(): Promise<ClusterStatus & { rooms: number }> {
    const read = Promise.all([this.presence.nodes(), this.presence.sessionCount(), this.presence.occupied()]);
    return withTimeout(read, QUEUE_COUNTS_TIMEOUT_MS, 'presence').then(([nodes, connections, occupied]) => ({
      nodes: nodes.sort((a, b) => a.node_id.localeCompare(b.node_id)),
      connections,
      rooms: occupied.size,
    }));
  }

  /** Job counts per queue, bounded by QUEUE_COUNTS_TIMEOUT_MS. */
  async queueDepths(): Promise<QueueDepth[]> {
    const counts = await withTimeout(this.counts(), QUEUE_COUNTS_TIMEOUT_MS, 'the job queues');
    return (Object.entries(counts) as Array<[QueueName, QueueCounts]>).map(([name, c]) => ({ name, ...c }));
  }
}

import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { NodeInfo } from '../presence/presence.store.js';
import { PresenceService } from '../presence/presence.service.js';
import { LocalNode } from './local-node.js';

/**
 * This node's membership of the cluster: a heartbeat in the presence store every fifth of
 * CLUSTER_NODE_TIMEOUT_MS, and a look for nodes whose heartbeat lapsed, whose members and
 * routes are then removed (each `presence.leave` sent once, by the node that removed it).
 * At a clean shutdown the node removes its own entries at once.
 */
@Injectable()
export class ClusterService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Cluster');
  private readonly startedAt = new Date().toISOString();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly presence: PresenceService,
    private readonly local: LocalNode,
  ) {}

  onApplicationBootstrap(): void {
    void this.beat();
    this.timer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, this.interval);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    const sessions = await this.presence.evictNode(this.config.NODE_ID, true).catch((err: Error) => {
      this.logger.warn(`own presence entries left to the survivors: ${err.message}`);
      return 0;
    });
    if (sessions) this.logger.log(`removed this node's ${sessions} session(s) from presence`);
  }

  /** The live nodes as they last reported themselves. */
  nodes(): Promise<NodeInfo[]> {
    return this.presence.nodes();
  }

  private get interval(): number {
    return Math.max(200, Math.floor(this.config.CLUSTER_NODE_TIMEOUT_MS / 5));
  }

  private async beat(): Promise<void> {
    try {
      const info: NodeInfo = {
        node_id: this.config.NODE_ID,
        role: this.config.ROLE,
        connections: this.local.connections(),
        started_at: this.startedAt,
        heartbeat_at: new Date().toISOString(),
      };
      // The key outlives four missed beats; with a look every beat, a dead node is found
      // within CLUSTER_NODE_TIMEOUT_MS.
      const ttl = this.config.CLUSTER_NODE_TIMEOUT_MS - this.interval;
      if (!(await this.presence.heartbeat(info, ttl)) && info.connections > 0) {
        const { sessions, memberships } = this.local.snapshot();
        await this.presence.restore(sessions, memberships);
        this.logger.warn(`presence restored for ${sessions.length} local connection(s)`);
      }
      for (const node of await this.presence.deadNodes()) {
        if (node === this.config.NODE_ID) continue;
        const removed = await this.presence.evictNode(node);
        this.logger.warn(`node ${node} stopped heartbeating: removed its ${removed} session(s)`);
      }
    } catch (err) {
      this.logger.debug(`heartbeat skipped: ${(err as Error).message}`);
    }
  }
}

import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { PresenceService } from '../presence/presence.service.js';
import type { NodeInfo } from '../presence/presence.store.js';
import { NodeLoad } from '../metrics/node-load.js';
import { LocalNode } from './local-node.js';

/**
 * This node's membership of the cluster: a heartbeat in the presence store every fifth of
 * CLUSTER_NODE_TIMEOUT_MS, and a look for nodes whose heartbeat lapsed, whose members and
 * routes are then removed (each `presence.leave` sent once, by the node that removed it).
 * After Redis was lost, the node reconciles its own entries; at a clean shutdown it removes
 * them at once.
 */
@Injectable()
export class ClusterService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Cluster');
  private readonly startedAt = new Date().toISOString();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  /** Set when Redis dropped: presence may have missed this node's changes meanwhile. */
  private stale = false;

  constructor(
    private readonly config: AppConfig,
    private readonly presence: PresenceService,
    private readonly local: LocalNode,
    private readonly load: NodeLoad,
    @Optional() @Inject(Redis) redis?: Redis,
  ) {
    redis?.on('error', () => (this.stale = true));
  }

  onApplicationBootstrap(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.interval);
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

  private tick(): void {
    this.beating ??= this.beat().finally(() => (this.beating = undefined));
  }

  private async beat(): Promise<void> {
    try {
      const info: NodeInfo = {
        node_id: this.config.NODE_ID,
        role: this.config.ROLE,
        connections: this.local.connections(),
        started_at: this.startedAt,
        heartbeat_at: new Date().toISOString(),
        load: await this.load.current(),
      };
      // The key outlives four missed beats; with a look every beat, a dead node is found
      // within CLUSTER_NODE_TIMEOUT_MS.
      const ttl = this.config.CLUSTER_NODE_TIMEOUT_MS - this.interval;
      const stale = this.stale;
      const known = await this.presence.heartbeat(info, ttl);
      if (stale || (!known && info.connections > 0)) {
        const local = this.local.snapshot();
        await this.presence.reconcile(this.config.NODE_ID, local);
        this.stale = false;
        this.logger.warn(`presence reconciled with ${local.sessions.length} local connection(s)`);
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

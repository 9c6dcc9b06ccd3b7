/** Messages between bench/cluster/connections.ts and its load-worker.ts processes (IPC). */

export interface WorkerConfig {
  /**
   * ws:// URLs per node, each node under several 127.0.0.x addresses: connection g goes to node
   * g % targets.length, at address floor(g / targets.length) % targets[node].length.
   */
  targets: string[][];
  /** First global connection index, and how many. */
  start: number;
  count: number;
  rooms: number;
  /** Connections per room: connection g joins room floor(g / perRoom). */
  perRoom: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  handshakeTimeoutMs: number;
  /** Unique per run; part of every device id. */
  tag: string;
}

export type ParentMessage = { type: 'status' } | { type: 'close' };

export type WorkerMessage =
  | { type: 'progress'; ok: number; failed: number; inflight: number }
  | {
      type: 'connected';
      /** RSS of the generator before its first connection. */
      baselineRss: number;
      ok: number;
      failed: number;
      failures: Record<string, number>;
      /** Handshake times in ms (socket created → offline_done), one per successful connection. */
      latencies: number[];
      ms: number;
    }
  | {
      type: 'status';
      open: number;
      drops: Record<string, number>;
      framesAfterHandshake: number;
      /** RSS after a full GC. */
      rss: number;
    }
  | { type: 'closed'; ms: number };

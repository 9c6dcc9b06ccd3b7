/** Messages between bench/compare/run.ts and its load-worker.ts processes (IPC). */
import type { ServerKind } from './clients.js';
import type { SparseHistogram } from './histogram.js';

export interface WorkerConfig {
  kind: ServerKind;
  url: string;
  /** First global connection index, and how many: connection g is member g % perRoom of room ⌊g / perRoom⌋. */
  start: number;
  count: number;
  perRoom: number;
  /** Source addresses (127.0.0.x): connection g uses sources[⌊g / perSource⌋ % sources.length]. */
  sources: string[];
  perSource: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  timeoutMs: number;
  /** Unique per run; part of every room name and device id. */
  tag: string;
}

export type ParentMessage =
  /** Open loop: `rate` publishes per second from this worker's clients in turn, for `durationMs`. */
  | { type: 'run'; step: number; rate: number; durationMs: number }
  /** What the clients received of step `step` so far. */
  | { type: 'collect'; step: number }
  /** Closed loop: every client keeps `window` publishes awaiting their ack, for `durationMs`. */
  | { type: 'persist'; durationMs: number; window: number }
  | { type: 'status' }
  | { type: 'close' };

export interface Received {
  received: number;
  /** A counter equal to the last one seen from that sender. */
  duplicates: number;
  /** A counter below the last one seen from that sender (late, or a duplicate of an older one). */
  outOfOrder: number;
  latency: SparseHistogram;
}

export type WorkerMessage =
  | { type: 'connected'; ok: number; failed: number; failures: Record<string, number>; ms: number }
  | {
      type: 'ran';
      step: number;
      sent: number;
      /** Publishes the server refused or that were never acknowledged (Roomcast only). */
      failed: number;
      errors: Record<string, number>;
      /** How far the open loop lagged behind its schedule at the end (the generator saturated). */
      behind: number;
    }
  | ({ type: 'collected'; step: number } & Received)
  | {
      type: 'persisted';
      sent: number;
      acked: number;
      failed: number;
      errors: Record<string, number>;
      ackLatency: SparseHistogram;
    }
  | { type: 'status'; rss: number };

import type { JobsOptions } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';

/**
 * Every queue and job of the system, in one typed place. Start-up fails when a job has no
 * handler (JobHandlerRegistry), so adding a job here forces someone to process it.
 */
export enum QueueName {
  Messages = 'messages',
  Audit = 'audit',
  /** Offline inbox and read state upkeep. */
  Inbox = 'inbox',
}

export enum JobName {
  PersistMessage = 'message.persist',
  ConnectionOpened = 'connection.opened',
  ConnectionClosed = 'connection.closed',
  DeviceSeen = 'device.seen',
  RoomQueried = 'room.queried',
  MessageRecalled = 'message.recalled',
  /** The client has its offline items up to an id: remove them. */
  OfflineDelivered = 'offline.delivered',
  /** Scheduled every OFFLINE_EXPIRY_INTERVAL_MS: remove expired offline items. */
  OfflineExpire = 'offline.expire',
  /** A device's read marker moved forward. */
  ReadStateUpdated = 'read_state.updated',
}

export interface PersistMessageJob {
  messageId: string;
  roomId: string | null;
  toDeviceId: string | null;
  fromDeviceId: string;
  fromIdentity: string;
  kind: string;
  /** JSON text of the content. */
  content: string;
  mentions: string[] | null;
  seq: number | null;
  clientMsgId: string | null;
  /** ms since epoch */
  sentAt: number;
  /** Direct messages: both device ids, sorted, joined by '|'. */
  conversation: string | null;
}

export interface ConnectionJob {
  sessionId: string;
  deviceId: string;
  roomId: string | null;
  identity: string;
  clientIp: string;
  nodeId: string;
  connectedAt: number;
  disconnectedAt: number | null;
  closeCode: number | null;
}

export interface DeviceSeenJob {
  deviceId: string;
  identity: string;
  roomId: string | null;
  at: number;
}

export interface RoomQueriedJob {
  roomId: string;
  deviceId: string;
  totalClients: number;
  queriedAt: number;
}

export interface MessageRecalledJob {
  messageId: string;
  /** Device id of the sender, or `admin:<name>`. */
  by: string;
  at: number;
}

/** A read marker moved forward; the processor keeps the furthest marker, so jobs may run in any order. */
export interface ReadStateJob {
  deviceId: string;
  /** `room:<room id>` or `peer:<device id>` */
  scope: string;
  /** Room scopes: the highest seq read. */
  upToSeq: number | null;
  /** Peer scopes: the last message read (UUIDv7: ids sort in acceptance order). */
  upToMessageId: string | null;
  /** ms since epoch */
  at: number;
}

export interface OfflineDeliveredJob {
  deviceId: string;
  /** Items of the device with an id up to this one (included) are removed. */
  upToId: number;
}

/** A scheduled job: nothing to carry, it works from the clock. */
export type OfflineExpireJob = Record<string, never>;

export interface JobPayloads {
  [JobName.PersistMessage]: PersistMessageJob;
  [JobName.ConnectionOpened]: ConnectionJob;
  [JobName.ConnectionClosed]: ConnectionJob;
  [JobName.DeviceSeen]: DeviceSeenJob;
  [JobName.RoomQueried]: RoomQueriedJob;
  [JobName.MessageRecalled]: MessageRecalledJob;
  [JobName.OfflineDelivered]: OfflineDeliveredJob;
  [JobName.OfflineExpire]: OfflineExpireJob;
  [JobName.ReadStateUpdated]: ReadStateJob;
}

export const JOB_QUEUE: Record<JobName, QueueName> = {
  [JobName.PersistMessage]: QueueName.Messages,
  [JobName.ConnectionOpened]: QueueName.Audit,
  [JobName.ConnectionClosed]: QueueName.Audit,
  [JobName.DeviceSeen]: QueueName.Audit,
  [JobName.RoomQueried]: QueueName.Audit,
  // Same queue as the write it amends; the handler waits (retries) until that row exists.
  [JobName.MessageRecalled]: QueueName.Messages,
  [JobName.OfflineDelivered]: QueueName.Inbox,
  [JobName.OfflineExpire]: QueueName.Inbox,
  [JobName.ReadStateUpdated]: QueueName.Inbox,
};

/**
 * Jobs the BullMQ driver carries several to one BullMQ job (a pack): the ones enqueued in the
 * same turn of the event loop travel together, the job's data being the array of their
 * payloads. BullMQ's own work per job (the add, lock, completion and event scripts: some
 * forty Redis commands) is then done once per pack instead of once per message. A pack is
 * retried whole, so only jobs whose handlers are idempotent may be packed. The in-process
 * driver has no per-job overhead to save and runs them one by one.
 */
export const PACKED_JOBS: ReadonlySet<JobName> = new Set([
  JobName.PersistMessage,
  JobName.ConnectionOpened,
  JobName.ConnectionClosed,
  JobName.DeviceSeen,
]);

/**
 * Concurrency per queue. The message writer batches the jobs it holds at once, so its
 * concurrency is the batch size: that many jobs wait together for one INSERT.
 */
export function queueConcurrency(config: AppConfig): Record<QueueName, number> {
  return { [QueueName.Messages]: config.MESSAGE_BATCH_SIZE, [QueueName.Audit]: 50, [QueueName.Inbox]: 20 };
}

/** Retry policy shared by both drivers (BullMQ and in-process). */
export function jobDefaults(config: AppConfig): JobsOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    removeOnComplete: { count: 1000 },
    // Jobs that exhaust their attempts stay in the failed set: that set is the dead letter.
    removeOnFail: false,
  };
}

/** Delay before attempt n+1 after n failed attempts (n ≥ 1), as BullMQ's exponential backoff computes it. */
export function backoffDelay(config: AppConfig, attemptsMade: number): number {
  return Math.round(2 ** (attemptsMade - 1) * config.JOB_BACKOFF_MS);
}

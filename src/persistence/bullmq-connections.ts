import type { ConnectionOptions } from 'bullmq';
import type { AppConfig } from '../config/app-config.js';

// ioredis retries every ≤2 s (BullMQ's default climbs to 20 s), so the queues are back soon after Redis is.
const retryStrategy = (times: number) => Math.min(times * 200, 2000);

/**
 * Producers (the Queue objects behind JobQueue.enqueue): no offline queue and one retry per
 * command, so an add fails at once while Redis is unreachable and the caller answers
 * UNAVAILABLE, as BullMQ's "failing fast when Redis is down" guide recommends. Each queue
 * has its own connection, named after it so that CLIENT LIST tells them apart.
 */
export function producerConnection(config: AppConfig, queue: string): ConnectionOptions {
  return {
    url: config.REDIS_URL,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: `roomcast:${config.NODE_ID}:producer:${queue}`,
    retryStrategy,
  };
}

/**
 * Workers: BullMQ requires `maxRetriesPerRequest: null` for their blocking commands, and
 * the offline queue lets them ride out an outage and carry on where they stopped.
 */
export function workerConnection(config: AppConfig): ConnectionOptions {
  return {
    url: config.REDIS_URL,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectionName: `roomcast:${config.NODE_ID}:worker`,
    retryStrategy,
  };
}

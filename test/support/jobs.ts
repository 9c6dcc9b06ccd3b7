import type { INestApplicationContext } from '@nestjs/common';
import { JobQueue } from '../../src/persistence/job-queue.js';
import { JobName } from '../../src/persistence/job-registry.js';

/**
 * Records a connection the database refuses (device_id is NOT NULL), so every attempt fails
 * and the job ends in the audit queue's dead letters, in either driver.
 */
export function recordRefusedConnection(app: INestApplicationContext, sessionId: string): void {
  app.get(JobQueue).record(JobName.ConnectionClosed, {
    sessionId,
    deviceId: null as unknown as string,
    roomId: null,
    identity: 'x',
    clientIp: '127.0.0.1',
    nodeId: 'n',
    connectedAt: Date.now(),
    disconnectedAt: Date.now(),
    closeCode: 1000,
  });
}

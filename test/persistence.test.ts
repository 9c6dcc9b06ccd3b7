import { statSync } from 'node:fs';
import { Registry } from 'prom-client';
import { DataSource, In } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '#protocol';
import { startApp } from '../src/bootstrap.js';
import { loadConfig } from '../src/config/load-config.js';
import { ConnectionEntity } from '../src/audit/connection.entity.js';
import { DeviceEntity } from '../src/devices/device.entity.js';
import { MessageEntity } from '../src/messaging/message.entity.js';
import { ENQUEUE_TIMEOUT_MS, VERIFY_TIMEOUT_MS } from '../src/persistence/bullmq-job-queue.js';
import { JobQueue } from '../src/persistence/job-queue.js';
import {
  type ConnectionJob,
  JobName,
  type PersistMessageJob,
  QueueName,
} from '../src/persistence/job-registry.js';
import { startTestServer, type TestEnvironment, testEnvironment, type TestServer } from './support/app.js';
import { ClientPool } from './support/clients.js';
import { MODES } from './support/services.js';

const POLL = { timeout: 15_000, interval: 50 };
let nextId = 0;

function message(overrides: Partial<PersistMessageJob> = {}): PersistMessageJob {
  const id = `msg-${process.pid}-${++nextId}`;
  return {
    messageId: id,
    roomId: 'ROOM0001',
    toDeviceId: null,
    fromDeviceId: 'device-a',
    fromIdentity: 'alice',
    kind: 'text',
    content: JSON.stringify({ text: `hello ${id}` }),
    mentions: null,
    seq: nextId,
    clientMsgId: null,
    sentAt: 1_763_800_000_123 + nextId,
    conversation: null,
    ...overrides,
  };
}

interface Harness {
  server: TestServer;
  jobs: JobQueue;
  db: DataSource;
  /** Current value of a metric (summed over its series), e.g. `roomcast_message_insert_rows_count`. */
  metric(name: string, queue?: QueueName): Promise<number>;
  /** Rows of `messages` with these ids (polled in Redis mode, where enqueue returns before the write). */
  stored(ids: string[]): Promise<number>;
}

async function harness(env: TestEnvironment, vars: Record<string, string> = {}): Promise<Harness> {
  const server = await startTestServer(env, vars);
  const db = server.app.get(DataSource);
  const registry = server.app.get(Registry);
  return {
    server,
    jobs: server.app.get(JobQueue),
    db,
    async metric(name, queue) {
      const base = name.replace(/_(count|sum)$/, '');
      // Histogram samples name their series (`_count`, `_sum`); counter samples do not.
      const { values } = (await registry.getSingleMetric(base)!.get()) as {
        values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
      };
      return values
        .filter((v) => (v.metricName ?? base) === name && (!queue || v.labels.queue === queue))
        .reduce((sum, v) => sum + v.value, 0);
    },
    async stored(ids) {
      return db.getRepository(MessageEntity).countBy(ids.map((messageId) => ({ messageId })));
    },
  };
}

const rename = (db: DataSource, from: string, to: string) => db.query(`ALTER TABLE ${from} RENAME TO ${to}`);

describe.each(MODES)('persistence (%s)', (mode) => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await testEnvironment(mode);
  });
  afterAll(() => env?.dispose());

  describe('default retry policy', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(env);
    });
    afterAll(() => h?.server.stop());

    /** Statements a rows-per-statement histogram counted while `work` wrote `rows` rows. */
    async function statementsWriting(histogram: string, rows: number, work: () => Promise<unknown>) {
      const statementsBefore = await h.metric(`${histogram}_count`);
      const rowsBefore = await h.metric(`${histogram}_sum`);
      await work();
      // The metric is updated once the statement returns, a moment after its rows are visible.
      await expect.poll(async () => (await h.metric(`${histogram}_sum`)) - rowsBefore, POLL).toBe(rows);
      return (await h.metric(`${histogram}_count`)) - statementsBefore;
    }

    it('stores N message jobs as exactly N rows, a repeated message once', async () => {
      const jobs = Array.from({ length: 50 }, () => message({ mentions: ['device-b'] }));
      await Promise.all(jobs.map((job) => h.jobs.enqueue(JobName.PersistMessage, job, job.messageId)));
      // The same message again, under another job id: only the unique message_id stops it.
      await h.jobs.enqueue(JobName.PersistMessage, jobs[0]);
      const ids = jobs.map((j) => j.messageId);
      await expect.poll(() => h.stored(ids), POLL).toBe(50);
      await new Promise((r) => setTimeout(r, 200));
      expect(await h.stored(ids)).toBe(50);

      const row = await h.db.getRepository(MessageEntity).findOneByOrFail({ messageId: jobs[7].messageId });
      expect(row).toMatchObject({
        roomId: 'ROOM0001',
        fromIdentity: 'alice',
        kind: 'text',
        content: jobs[7].content,
        mentions: '["device-b"]',
        clientMsgId: null,
      });
      expect(Number(row.seq)).toBe(jobs[7].seq);
      expect(row.sentAt.getTime()).toBe(jobs[7].sentAt);
    });

    it('writes 200 concurrent jobs with far fewer INSERT statements', async () => {
      const jobs = Array.from({ length: 200 }, () => message());
      const statements = await statementsWriting('roomcast_message_insert_rows', 200, async () => {
        await Promise.all(jobs.map((job) => h.jobs.enqueue(JobName.PersistMessage, job, job.messageId)));
        await expect.poll(() => h.stored(jobs.map((j) => j.messageId)), POLL).toBe(200);
      });
      expect(statements).toBeGreaterThan(0);
      expect(statements).toBeLessThanOrEqual(20);
    });

    it('retries a failed database write and stores the row exactly once', async () => {
      const failuresBefore = await h.metric('roomcast_jobs_failed_attempts_total', QueueName.Messages);
      await rename(h.db, 'messages', 'messages_off');
      const job = message();
      let pending: Promise<void> | undefined;
      try {
        // In process the ack waits for the write; with BullMQ it only waits for Redis.
        pending = h.jobs.enqueue(JobName.PersistMessage, job, job.messageId);
        await expect
          .poll(() => h.metric('roomcast_jobs_failed_attempts_total', QueueName.Messages), POLL)
          .toBeGreaterThan(failuresBefore);
      } finally {
        await rename(h.db, 'messages_off', 'messages');
      }
      await pending;
      await expect.poll(() => h.stored([job.messageId]), POLL).toBe(1);
    });

    it('records connections whose open and close jobs arrive in either order', async () => {
      const connection = (sessionId: string, closed: boolean): ConnectionJob => ({
        sessionId,
        deviceId: 'device-a',
        roomId: 'ROOM0001',
        identity: 'alice',
        clientIp: '10.0.0.1',
        nodeId: 'node-1',
        connectedAt: 1_763_800_000_000,
        disconnectedAt: closed ? 1_763_800_060_500 : null,
        closeCode: closed ? 1000 : null,
      });
      await h.jobs.enqueue(JobName.ConnectionOpened, connection('s-open-first', false));
      await h.jobs.enqueue(JobName.ConnectionClosed, connection('s-close-first', true));
      await expect.poll(() => h.db.getRepository(ConnectionEntity).count(), POLL).toBe(2);
      await h.jobs.enqueue(JobName.ConnectionClosed, connection('s-open-first', true));
      await h.jobs.enqueue(JobName.ConnectionOpened, connection('s-close-first', false));

      for (const sessionId of ['s-open-first', 's-close-first']) {
        await expect
          .poll(
            async () =>
              (
                await h.db.getRepository(ConnectionEntity).findOneBy({ sessionId })
              )?.disconnectedAt?.getTime(),
            POLL,
          )
          .toBe(1_763_800_060_500);
        const row = await h.db.getRepository(ConnectionEntity).findOneByOrFail({ sessionId });
        expect(row).toMatchObject({ deviceId: 'device-a', clientIp: '10.0.0.1', closeCode: 1000 });
        expect(row.connectedAt.getTime()).toBe(1_763_800_000_000);
      }
    });

    it('upserts devices: first_connected_at kept, last_* from the latest sighting', async () => {
      const seen = (roomId: string, at: number) =>
        h.jobs.enqueue(JobName.DeviceSeen, { deviceId: 'device-up', identity: `id-${roomId}`, roomId, at });
      const devices = h.db.getRepository(DeviceEntity);
      await seen('ROOMAAAA', 1_000_000);
      await expect.poll(() => devices.countBy({ deviceId: 'device-up' }), POLL).toBe(1);
      await seen('ROOMBBBB', 3_000_000);
      await expect
        .poll(async () => (await devices.findOneByOrFail({ deviceId: 'device-up' })).lastRoomId, POLL)
        .toBe('ROOMBBBB');
      // A sighting that commits late (audit jobs run concurrently) does not roll the device back.
      await seen('ROOMSTAL', 2_000_000);
      await h.jobs.enqueue(JobName.RoomQueried, {
        roomId: 'ROOMBBBB',
        deviceId: 'device-up',
        totalClients: 3,
        queriedAt: 3_000_001,
      });
      await expect
        .poll(async () => Number((await h.db.query('SELECT COUNT(*) AS n FROM room_queries'))[0].n), POLL)
        .toBe(1);

      const device = await devices.findOneByOrFail({ deviceId: 'device-up' });
      expect(device.firstConnectedAt.getTime()).toBe(1_000_000);
      expect(device.lastConnectedAt.getTime()).toBe(3_000_000);
      expect(device).toMatchObject({ lastRoomId: 'ROOMBBBB', lastIdentity: 'id-ROOMBBBB' });
    });

    it('writes a burst of sightings with far fewer statements; each device ends at its latest', async () => {
      const ids = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
      const seen = (deviceId: string, identity: string, roomId: string, at: number) =>
        h.jobs.enqueue(JobName.DeviceSeen, { deviceId, identity, roomId, at });
      // Two sightings per device, the later one first: one statement may carry both.
      const statements = await statementsWriting('roomcast_audit_write_rows', 100, () =>
        Promise.all(
          ids.flatMap((d) => [
            seen(d, 'late', 'ROOMLATE', 2_000_000),
            seen(d, 'early', 'ROOMERLY', 1_000_000),
          ]),
        ),
      );
      expect(statements).toBeGreaterThan(0);
      expect(statements).toBeLessThanOrEqual(20);
      const rows = await h.db.getRepository(DeviceEntity).findBy({ deviceId: In(ids) });
      expect(rows).toHaveLength(50);
      for (const row of rows) {
        expect(row).toMatchObject({ lastIdentity: 'late', lastRoomId: 'ROOMLATE' });
        expect([row.firstConnectedAt.getTime(), row.lastConnectedAt.getTime()]).toEqual([
          1_000_000, 2_000_000,
        ]);
      }
    });
  });

  describe('JOB_ATTEMPTS=2', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(env, { JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '20' });
    });
    afterAll(() => h?.server.stop());

    it('dead-letters a recorded job that exhausts its attempts; retryFailed brings it back', async () => {
      const failedBefore = (await h.jobs.counts())[QueueName.Messages].failed;
      const job = message();
      await rename(h.db, 'messages', 'messages_off');
      try {
        h.jobs.record(JobName.PersistMessage, job);
        await expect
          .poll(async () => (await h.jobs.counts())[QueueName.Messages].failed, POLL)
          .toBe(failedBefore + 1);
      } finally {
        await rename(h.db, 'messages_off', 'messages');
      }
      await expect
        .poll(() => h.metric('roomcast_jobs_dead_lettered_total', QueueName.Messages), POLL)
        .toBe(1);
      const [dead] = await h.jobs.failed(QueueName.Messages, 10);
      expect(dead).toMatchObject({
        name: JobName.PersistMessage,
        queue: QueueName.Messages,
        attemptsMade: 2,
      });
      // BullMQ carries message jobs in packs: the data of the dead letter is the pack's array.
      expect(dead.data).toMatchObject(mode === 'embedded' ? job : [job]);
      expect(dead.failedReason).toMatch(/messages/);
      expect(await h.stored([job.messageId])).toBe(0);

      expect(await h.jobs.retryFailed(QueueName.Messages)).toBe(failedBefore + 1);
      await expect.poll(() => h.stored([job.messageId]), POLL).toBe(1);
      await expect.poll(async () => (await h.jobs.counts())[QueueName.Messages].failed, POLL).toBe(0);
    });

    it('an enqueued message whose attempts run out: BullMQ dead-letters it (it was acked); in process the caller is told and it is dropped', async () => {
      const failedBefore = (await h.jobs.counts())[QueueName.Messages].failed;
      const job = message();
      await rename(h.db, 'messages', 'messages_off');
      try {
        const enqueued = h.jobs.enqueue(JobName.PersistMessage, job, job.messageId);
        if (mode === 'embedded') {
          await expect(enqueued).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
        } else {
          await enqueued;
          await expect
            .poll(async () => (await h.jobs.counts())[QueueName.Messages].failed, POLL)
            .toBe(failedBefore + 1);
        }
      } finally {
        await rename(h.db, 'messages_off', 'messages');
      }
      await h.jobs.retryFailed(QueueName.Messages);
      if (mode === 'embedded') {
        // Never stored later: the client was answered UNAVAILABLE and may send again.
        await new Promise((r) => setTimeout(r, 300));
        expect(await h.stored([job.messageId])).toBe(0);
      } else {
        await expect.poll(() => h.stored([job.messageId]), POLL).toBe(1);
      }
    });

    it('isolates a bad row: its batch-mates are stored, and dead-lettered only within its pack', async () => {
      const failedBefore = (await h.jobs.counts())[QueueName.Messages].failed;
      const good = Array.from({ length: 5 }, () => message());
      // NOT NULL column: MySQL INSERT IGNORE would have stored '' here.
      const bad = message({ fromIdentity: null as unknown as string });
      const acks = await Promise.allSettled(
        [...good, bad].map((job) => h.jobs.enqueue(JobName.PersistMessage, job, job.messageId)),
      );
      await expect.poll(() => h.stored(good.map((j) => j.messageId)), POLL).toBe(5);
      if (mode === 'embedded') {
        // In process the bad one is reported to its caller (and not kept).
        expect(acks.map((a) => a.status)).toEqual([...good.map(() => 'fulfilled'), 'rejected']);
        expect((await h.jobs.counts())[QueueName.Messages].failed).toBe(failedBefore);
      } else {
        await expect
          .poll(async () => (await h.jobs.counts())[QueueName.Messages].failed, POLL)
          .toBe(failedBefore + 1);
        // The pack of the tick is dead-lettered with every payload; retrying it stores the bad
        // one (once fixed) and leaves the stored ones as they are.
        const [dead] = await h.jobs.failed(QueueName.Messages, 1);
        expect(dead.data).toEqual([...good, bad]);
        expect(dead.failedReason).toMatch(/^1 of 6 items failed/);
      }
      expect(await h.stored([bad.messageId])).toBe(0);
    });
  });

  describe.runIf(mode === 'mysql+redis')('ROLE=gateway beside ROLE=worker', () => {
    it('the gateway only produces; the worker process stores its jobs', async () => {
      const gateway = await harness(env, { ROLE: 'gateway' });
      const worker = await startApp(
        loadConfig({ ...env.env, ROLE: 'worker', LOG_LEVEL: 'error', NODE_ID: `test-worker-${process.pid}` }),
      );
      try {
        // No processors or workers in a gateway: nothing there records job outcomes.
        expect(
          gateway.server.app.get(Registry).getSingleMetric('roomcast_jobs_completed_total'),
        ).toBeUndefined();
        const jobs = Array.from({ length: 20 }, () => message());
        await Promise.all(
          jobs.map((job) => gateway.jobs.enqueue(JobName.PersistMessage, job, job.messageId)),
        );
        await expect.poll(() => gateway.stored(jobs.map((j) => j.messageId)), POLL).toBe(20);
        const completed = worker.app.get(Registry).getSingleMetric('roomcast_jobs_completed_total');
        await expect
          .poll(
            async () => (await completed!.get()).values.find((v) => v.labels.queue === 'messages')?.value,
            POLL,
          )
          .toBe(20);
      } finally {
        await worker.close();
        await gateway.server.stop();
      }
    });
  });

  describe.runIf(mode === 'mysql+redis')('JOB_ADD_LINGER_MS', () => {
    it('sends arriving on different sockets within the linger share one BullMQ job; each is acked and stored once', async () => {
      // A queue of its own: the completed jobs of the other tests (kept up to a cap) do not blur the count.
      const h = await harness(env, {
        JOB_ADD_LINGER_MS: '100',
        REDIS_PREFIX: `${env.env.REDIS_PREFIX}-linger`,
      });
      const pool = new ClientPool(h.server.wsUrl);
      try {
        const senders = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            pool.connect({ device_id: `linger-${i}`, identity: 'l', room_id: `LINGER${i}` }),
          ),
        );
        // Jobs in the queue in any state: every send's add is in once its ack is.
        const jobsInQueue = async () =>
          Object.values((await h.jobs.counts())[QueueName.Messages]).reduce((n, c) => n + c, 0);
        const before = await jobsInQueue();
        // One after the other, a few ms apart: each arrives in a turn of the event loop of its own.
        const acks: Array<Promise<{ message_id: string }>> = [];
        for (const [i, { client }] of senders.entries()) {
          acks.push(
            client.request(
              'message.send',
              { room_id: `LINGER${i}`, kind: 'text', content: 'x' },
              { id: `l${i}` },
            ),
          );
          await new Promise((r) => setTimeout(r, 5));
        }
        const ids = (await Promise.all(acks)).map((a) => a.message_id);
        const added = (await jobsInQueue()) - before;
        expect(added).toBeGreaterThanOrEqual(1);
        expect(added).toBeLessThan(ids.length);
        await expect.poll(() => h.stored(ids), POLL).toBe(ids.length);
      } finally {
        await pool.closeAll();
        await h.server.stop();
      }
    });
  });

  describe.runIf(mode === 'embedded')('SQLITE_CHECKPOINT_MS', () => {
    it('acked messages reach the database file from the checkpoint thread while the server runs', async () => {
      const h = await harness(env, { SQLITE_CHECKPOINT_MS: '50' });
      const file = h.server.config.DATABASE_URL.slice('sqlite:'.length);
      const pool = new ClientPool(h.server.wsUrl);
      try {
        const { client } = await pool.connect({ device_id: 'ckpt', identity: 'c', room_id: 'CKPT0001' });
        // The schema itself is copied out of the WAL first (by the thread too: it is under 1,000 pages).
        const EMPTY_FILE = 4096;
        await expect.poll(() => statSync(file).size, POLL).toBeGreaterThan(EMPTY_FILE);
        const before = statSync(file).size;
        // 20 × 30 KB: some 200 pages, in the WAL until a checkpoint (SQLite's own waits for 1,000).
        const ids: string[] = [];
        for (let i = 0; i < 20; i++) {
          const ack = await client.request(
            'message.send',
            { room_id: 'CKPT0001', kind: 'custom', content: { blob: 'x'.repeat(30_000) } },
            { id: `ckpt${i}` },
          );
          ids.push(ack.message_id);
        }
        expect(await h.stored(ids)).toBe(ids.length);
        await expect.poll(() => statSync(file).size, POLL).toBeGreaterThan(before + 500_000);
        const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
        expect(metrics).toMatch(/^roomcast_sqlite_wal_pages \d+$/m);
      } finally {
        await pool.closeAll();
        await h.server.stop();
      }
    });
  });

  describe.runIf(mode === 'mysql+redis')('Redis unreachable', () => {
    it('answers UNAVAILABLE within a bounded time, and shutdown still completes', async () => {
      const server = await startTestServer(env, {
        REDIS_URL: 'redis://127.0.0.1:1',
        SHUTDOWN_TIMEOUT_MS: '1000',
      });
      let startedAt = Date.now();
      await expect(
        server.app
          .get(JobQueue)
          .enqueue(JobName.DeviceSeen, { deviceId: 'd', identity: 'i', roomId: null, at: 1 }),
      ).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
      // The wait for Redis, then the look-up of the job's id in case the add did land.
      expect(Date.now() - startedAt).toBeLessThan(ENQUEUE_TIMEOUT_MS + VERIFY_TIMEOUT_MS + 1000);
      startedAt = Date.now();
      await server.stop();
      expect(Date.now() - startedAt).toBeLessThan(5000);
    });
  });

  describe('shutdown', () => {
    it('finishes (or hands back) jobs accepted before SIGTERM', async () => {
      const first = await harness(env);
      const jobs = Array.from({ length: 30 }, () => message());
      const acks = jobs.map((job) => first.jobs.enqueue(JobName.PersistMessage, job, job.messageId));
      // With BullMQ an ack means "in Redis"; wait for it so the jobs exist before stopping.
      if (mode !== 'embedded') await Promise.all(acks);
      await first.server.stop();
      await Promise.all(acks);
      const second = await harness(env);
      try {
        await expect.poll(() => second.stored(jobs.map((j) => j.messageId)), POLL).toBe(30);
      } finally {
        await second.server.stop();
      }
    });
  });
});

import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '#protocol';
import { deleteRedisKeys, uniquePrefix } from '../../test/support/services.js';
import { loadConfig } from '../config/load-config.js';
import {
  ADD_PROOF_MS,
  BullMqJobQueue,
  ENQUEUE_TIMEOUT_MS,
  PACK_MAX_ITEMS,
  RECORD_RETRY,
  SCHEDULE_RETRY_MS,
  VERIFY_RETRY_MS,
} from './bullmq-job-queue.js';
import { EnqueueUncertain } from './job-queue.js';
import {
  type DeviceSeenJob,
  JobName,
  type MessageRecalledJob,
  type PersistMessageJob,
  QueueName,
} from './job-registry.js';

type AddBulk = (
  jobs: Array<{
    name: string;
    data: unknown;
    opts?: { jobId?: string; removeOnComplete?: unknown; deduplication?: unknown };
  }>,
) => Promise<unknown>;

type Upsert = (
  id: string,
  repeat: { every?: number },
  template: { name: string; data: unknown },
) => Promise<unknown>;

function fakeQueues(
  addBulk: AddBulk,
  /**
   * Whether Redis holds the job (`proof`: only the proof of its add, the job having run and
   * been dropped); throws while Redis is away.
   */
  stored: (id: string) => boolean | 'proof' = () => false,
  upsertJobScheduler: Upsert = async () => ({}),
  env: Record<string, string> = {},
) {
  const queues = new Map<QueueName, Queue>();
  /** Every add, as the jobs it sent: a single add as a list of one. */
  const calls: Record<string, Parameters<AddBulk>[0][]> = {};
  const singleAdds: Record<string, number> = {};
  const schedulers: Array<{ queue: QueueName; args: Parameters<Upsert> }> = [];
  for (const name of Object.values(QueueName)) {
    calls[name] = [];
    singleAdds[name] = 0;
    const queue = {
      on: vi.fn(),
      addBulk: (jobs: Parameters<AddBulk>[0]) => {
        calls[name].push(jobs);
        return addBulk(jobs);
      },
      add: (jobName: string, data: unknown, opts?: Parameters<AddBulk>[0][number]['opts']) => {
        const jobs = [{ name: jobName, data, opts }];
        calls[name].push(jobs);
        singleAdds[name]++;
        return addBulk(jobs);
      },
      getJob: async (id: string) => (stored(id) === true ? { id } : undefined),
      getDeduplicationJobId: async (id: string) => (stored(id) === 'proof' ? id : null),
      upsertJobScheduler: (...args: Parameters<Upsert>) => {
        schedulers.push({ queue: name, args });
        return upsertJobScheduler(...args);
      },
    };
    queues.set(name, queue as unknown as Queue);
  }
  const registry = new Registry();
  const config = loadConfig({ LOG_LEVEL: 'fatal', ...env });
  return { jobs: new BullMqJobQueue(queues, registry, config), calls, singleAdds, schedulers, registry };
}

const seen = (deviceId: string): DeviceSeenJob => ({ deviceId, identity: 'i', roomId: null, at: 1 });
const message = (messageId: string) => ({ messageId }) as PersistMessageJob;
const recalled = (messageId: string): MessageRecalledJob => ({ messageId, by: 'd', at: 1 });

/**
 * Fake time forward, then a real turn of the event loop for the flush (setImmediate) of an
 * enqueue made by a timer on the way. Use with `fakeTimeouts()`.
 */
const fakeTimeouts = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await new Promise((resolve) => setImmediate(resolve));
  await vi.advanceTimersByTimeAsync(0);
}

describe('BullMqJobQueue', () => {
  afterEach(() => vi.useRealTimers());

  it('sends the enqueues of one tick with one addBulk per queue, each caller settling on its own', async () => {
    const { jobs, calls, singleAdds } = fakeQueues(async (added) => added);
    await Promise.all([
      jobs.enqueue(JobName.PersistMessage, message('m-1'), 'm-1'),
      jobs.enqueue(JobName.MessageRecalled, recalled('m-0'), 'recall-m-0'),
      jobs.enqueue(JobName.PersistMessage, message('m-2'), 'm-2'),
      jobs.enqueue(JobName.DeviceSeen, seen('d1')),
    ]);
    expect(calls[QueueName.Messages]).toEqual([
      [
        {
          name: JobName.PersistMessage,
          data: [message('m-1'), message('m-2')],
          opts: {
            jobId: expect.any(String),
            removeOnComplete: { count: expect.any(Number) },
            deduplication: expect.any(Object),
          },
        },
        { name: JobName.MessageRecalled, data: recalled('m-0'), opts: { jobId: 'recall-m-0' } },
      ],
    ]);
    expect(calls[QueueName.Audit]).toEqual([
      [{ name: JobName.DeviceSeen, data: [seen('d1')], opts: expect.any(Object) }],
    ]);
    // Two jobs go in one addBulk; a single one (the audit pack) is a plain add.
    expect(singleAdds).toMatchObject({ [QueueName.Messages]: 0, [QueueName.Audit]: 1 });
  });

  it('with JOB_ADD_LINGER_MS, sends the enqueues of that time after the first together, in one pack', async () => {
    fakeTimeouts();
    const { jobs, calls } = fakeQueues(async (added) => added, undefined, undefined, {
      JOB_ADD_LINGER_MS: '5',
    });
    const first = jobs.enqueue(JobName.PersistMessage, message('m-1'), 'm-1');
    await advance(4);
    expect(calls[QueueName.Messages]).toEqual([]);
    const second = jobs.enqueue(JobName.PersistMessage, message('m-2'), 'm-2');
    await advance(1);
    await Promise.all([first, second]);
    expect(calls[QueueName.Messages]).toEqual([
      [{ name: JobName.PersistMessage, data: [message('m-1'), message('m-2')], opts: expect.any(Object) }],
    ]);
    // The next add waits its own linger, from its own start.
    const third = jobs.enqueue(JobName.PersistMessage, message('m-3'), 'm-3');
    await advance(4);
    expect(calls[QueueName.Messages]).toHaveLength(1);
    await advance(1);
    await third;
    expect(calls[QueueName.Messages]).toHaveLength(2);
  });

  it('packs at most PACK_MAX_ITEMS payloads to a job, each pack with an id of its own', async () => {
    const { jobs, calls } = fakeQueues(async (added) => added);
    const count = PACK_MAX_ITEMS * 2 + 1;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        jobs.enqueue(JobName.PersistMessage, message(`m-${i}`), `m-${i}`),
      ),
    );
    const [bulk] = calls[QueueName.Messages];
    expect(bulk.map((job) => (job.data as unknown[]).length)).toEqual([PACK_MAX_ITEMS, PACK_MAX_ITEMS, 1]);
    expect(bulk.flatMap((job) => job.data as PersistMessageJob[]).map((m) => m.messageId)).toEqual(
      Array.from({ length: count }, (_, i) => `m-${i}`),
    );
    expect(new Set(bulk.map((job) => job.opts?.jobId)).size).toBe(3);
  });

  it('answers UNAVAILABLE to every caller of a bulk Redis refused', async () => {
    const { jobs } = fakeQueues(async () => {
      throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    });
    const results = await Promise.allSettled([
      jobs.enqueue(JobName.DeviceSeen, seen('a')),
      jobs.enqueue(JobName.DeviceSeen, seen('b')),
    ]);
    for (const result of results) {
      expect(result).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.UNAVAILABLE } });
    }
  });

  it('hands a recorded job over again, with growing waits, until Redis takes it', async () => {
    fakeTimeouts();
    let refusals = 3;
    const { jobs, calls } = fakeQueues(async (added) => {
      if (refusals-- > 0) throw new Error('Connection is closed.');
      return added;
    });
    jobs.record(JobName.DeviceSeen, seen('late'));
    await advance(0);
    expect(calls[QueueName.Audit]).toHaveLength(1);
    expect(jobs.recordsRetrying).toBe(1);
    await advance(RECORD_RETRY.firstMs);
    expect(calls[QueueName.Audit]).toHaveLength(2);
    await advance(RECORD_RETRY.firstMs); // the second wait is twice as long
    expect(calls[QueueName.Audit]).toHaveLength(2);
    await advance(RECORD_RETRY.firstMs + 4 * RECORD_RETRY.firstMs);
    expect(calls[QueueName.Audit]).toHaveLength(4);
    expect(jobs.recordsRetrying).toBe(0);
    expect(calls[QueueName.Audit].at(-1)).toEqual([
      { name: JobName.DeviceSeen, data: [seen('late')], opts: expect.any(Object) },
    ]);
  });

  it('gives a recorded job up after RECORD_RETRY.attempts hand-overs, and at shutdown', async () => {
    fakeTimeouts();
    const { jobs, calls } = fakeQueues(async () => {
      throw new Error('Connection is closed.');
    });
    jobs.record(JobName.DeviceSeen, seen('never'));
    await advance(RECORD_RETRY.maxMs * RECORD_RETRY.attempts);
    expect(calls[QueueName.Audit]).toHaveLength(RECORD_RETRY.attempts);
    expect(jobs.recordsRetrying).toBe(0);

    jobs.record(JobName.DeviceSeen, seen('closing'));
    await advance(0);
    jobs.beforeApplicationShutdown();
    await advance(RECORD_RETRY.maxMs);
    expect(calls[QueueName.Audit]).toHaveLength(RECORD_RETRY.attempts + 2);
    expect(jobs.recordsRetrying).toBe(0);
  });

  it('does not wait for Redis longer than ENQUEUE_TIMEOUT_MS', async () => {
    vi.useFakeTimers();
    const { jobs } = fakeQueues(() => new Promise(() => undefined));
    const enqueued = jobs.enqueue(JobName.DeviceSeen, seen('a'));
    const outcome = expect(enqueued).rejects.toMatchObject({
      code: ErrorCode.UNAVAILABLE,
      message: /did not answer/,
    });
    await vi.advanceTimersByTimeAsync(ENQUEUE_TIMEOUT_MS);
    await outcome;
  });

  it('refuses a job id BullMQ would reject, without failing the other jobs of the tick', async () => {
    const { jobs, calls } = fakeQueues(async (added) => added);
    const results = await Promise.allSettled([
      jobs.enqueue(JobName.DeviceSeen, seen('a'), 'device:a'),
      jobs.enqueue(JobName.DeviceSeen, seen('b'), 'device-b'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(calls[QueueName.Audit]).toHaveLength(1);
  });

  it('after a failed add, resolves the jobs Redis did store and rejects the others, a pack as a whole', async () => {
    // The add "failed" (timed out, connection dropped) but the command ran for recall-m-1.
    const { jobs } = fakeQueues(
      async () => {
        throw new Error('Connection is closed.');
      },
      (id) => id === 'recall-m-1',
    );
    const [stored, lost, packed] = await Promise.allSettled([
      jobs.enqueue(JobName.MessageRecalled, recalled('m-1'), 'recall-m-1'),
      jobs.enqueue(JobName.MessageRecalled, recalled('m-2'), 'recall-m-2'),
      jobs.enqueue(JobName.PersistMessage, message('m-3'), 'm-3'),
    ]);
    expect(stored.status).toBe('fulfilled');
    expect(lost).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.UNAVAILABLE } });
    expect(packed).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.UNAVAILABLE } });
  });

  it('resolves every caller of a pack that Redis stored although its add failed', async () => {
    const { jobs, calls } = fakeQueues(
      async () => {
        throw new Error('Connection is closed.');
      },
      (id) => calls[QueueName.Messages][0]?.[0]?.opts?.jobId === id,
    );
    const results = await Promise.allSettled([
      jobs.enqueue(JobName.PersistMessage, message('m-1'), 'm-1'),
      jobs.enqueue(JobName.PersistMessage, message('m-2'), 'm-2'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  it('adds every pack with a proof of its add (a deduplication key of its own id) that outlives the job', async () => {
    const { jobs, calls } = fakeQueues(async (added) => added);
    await Promise.all([
      jobs.enqueue(JobName.PersistMessage, message('m-1'), 'm-1'),
      jobs.enqueue(JobName.MessageRecalled, recalled('m-1'), 'recall-m-1'),
    ]);
    const [pack, recall] = calls[QueueName.Messages].flat();
    expect(pack.name).toBe(JobName.PersistMessage);
    expect(pack.opts?.deduplication).toEqual({ id: pack.opts?.jobId, ttl: ADD_PROOF_MS });
    expect(recall.name).toBe(JobName.MessageRecalled);
    expect(recall.opts?.deduplication).toBeUndefined();
  });

  it('after a failed add, finds a pack that already ran and was dropped by the proof of its add', async () => {
    const { jobs, calls } = fakeQueues(
      async () => {
        throw new Error('Connection is closed.');
      },
      (id) => (id === calls[QueueName.Messages][0]?.[0]?.opts?.jobId ? 'proof' : false),
    );
    const results = await Promise.allSettled([
      jobs.enqueue(JobName.PersistMessage, message('m-1'), 'm-1'),
      jobs.enqueue(JobName.PersistMessage, message('m-2'), 'm-2'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  it('adds a pack again, rather than call it absent, when Redis answers only after its proof may have expired', async () => {
    fakeTimeouts();
    let redisBack = false;
    const { jobs, calls } = fakeQueues(
      async (added) => {
        if (calls[QueueName.Messages].length === 1) throw new Error('Connection is closed.');
        return added;
      },
      () => {
        if (!redisBack) throw new Error('Connection is closed.');
        return false; // the job and its proof are both gone: run and dropped, or never added
      },
    );
    const outcome = jobs.enqueue(JobName.PersistMessage, message('m-1'), 'm-1').catch((err: unknown) => err);
    await advance(0);
    const uncertain = (await outcome) as EnqueueUncertain;
    expect(uncertain).toBeInstanceOf(EnqueueUncertain);
    await advance(ADD_PROOF_MS);
    redisBack = true;
    await advance(VERIFY_RETRY_MS);
    expect(await uncertain.stored).toBe(true);
    const [first, again] = calls[QueueName.Messages];
    expect(again).toEqual(first);
  });

  it('rejects a bulk ioredis never sent as plainly unavailable, without looking its jobs up', async () => {
    const lookups: string[] = [];
    const { jobs } = fakeQueues(
      async () => {
        throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
      },
      (id) => {
        lookups.push(id);
        return false;
      },
    );
    const result = jobs.enqueue(JobName.MessageRecalled, recalled('m-1'), 'recall-m-1');
    await expect(result).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
    await expect(result).rejects.not.toBeInstanceOf(EnqueueUncertain);
    expect(lookups).toEqual([]);
  });

  it('when Redis cannot be asked about an unanswered add, rejects it as uncertain and settles once Redis answers', async () => {
    fakeTimeouts();
    let redisBack = false;
    const { jobs, calls, registry } = fakeQueues(
      async () => {
        throw new Error('Connection is closed.');
      },
      (id) => {
        if (!redisBack) throw new Error('Connection is closed.');
        return id === calls[QueueName.Messages][0]?.[0]?.opts?.jobId; // the pack was stored
      },
    );
    const outcomes = [
      jobs.enqueue(JobName.PersistMessage, message('m-1'), 'm-1').catch((err: unknown) => err),
      jobs.enqueue(JobName.PersistMessage, message('m-2'), 'm-2').catch((err: unknown) => err),
      jobs.enqueue(JobName.MessageRecalled, recalled('m-3'), 'recall-m-3').catch((err: unknown) => err),
    ];
    await advance(0);
    const [first, second, recall] = (await Promise.all(outcomes)) as EnqueueUncertain[];
    for (const err of [first, second, recall]) {
      expect(err).toBeInstanceOf(EnqueueUncertain);
      expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    }
    let settled = false;
    void first.stored.then(() => (settled = true));
    await advance(VERIFY_RETRY_MS * 4);
    expect(settled).toBe(false);
    const metric = async (name: string, labels: Record<string, string>) =>
      (await registry.getSingleMetric(name)!.get()).values.find((v) =>
        Object.entries(labels).every(([k, l]) => v.labels[k] === l),
      )?.value ?? 0;
    expect(await metric('roomcast_job_adds_unsettled', { queue: QueueName.Messages })).toBe(3);

    redisBack = true;
    await advance(VERIFY_RETRY_MS);
    expect(await first.stored).toBe(true);
    expect(await second.stored).toBe(true);
    expect(await recall.stored).toBe(false);
    expect(await metric('roomcast_job_adds_unsettled', { queue: QueueName.Messages })).toBe(0);
    const unconfirmed = (outcome: string) =>
      metric('roomcast_job_adds_unconfirmed_total', { queue: QueueName.Messages, outcome });
    expect([await unconfirmed('stored'), await unconfirmed('absent')]).toEqual([2, 1]);
  });

  it('schedules a job as a BullMQ job scheduler named after the job, on its queue', async () => {
    const { jobs, schedulers } = fakeQueues(async (added) => added);
    jobs.schedule(JobName.OfflineExpire, 60_000, {});
    await vi.waitFor(() => expect(schedulers).toHaveLength(1));
    expect(schedulers[0]).toEqual({
      queue: QueueName.Inbox,
      args: [JobName.OfflineExpire, { every: 60_000 }, { name: JobName.OfflineExpire, data: {} }],
    });
  });

  it('registers a schedule again while Redis refuses it, and stops trying at shutdown', async () => {
    vi.useFakeTimers();
    let refuse = true;
    const { jobs, schedulers } = fakeQueues(
      async (added) => added,
      () => false,
      async () => {
        if (refuse) throw new Error('Connection is closed.');
        return {};
      },
    );
    jobs.schedule(JobName.OfflineExpire, 60_000, {});
    await vi.advanceTimersByTimeAsync(0);
    expect(schedulers).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(SCHEDULE_RETRY_MS.first);
    expect(schedulers).toHaveLength(2);
    refuse = false;
    // The wait doubles after each refusal.
    await vi.advanceTimersByTimeAsync(SCHEDULE_RETRY_MS.first * 2);
    expect(schedulers).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(SCHEDULE_RETRY_MS.max * 2);
    expect(schedulers).toHaveLength(3);

    refuse = true;
    jobs.schedule(JobName.OfflineExpire, 60_000, {});
    await vi.advanceTimersByTimeAsync(0);
    expect(schedulers).toHaveLength(4);
    jobs.beforeApplicationShutdown();
    await vi.advanceTimersByTimeAsync(SCHEDULE_RETRY_MS.max * 2);
    expect(schedulers).toHaveLength(4);
  });
});

const redisUrl = process.env.RC_TEST_REDIS_URL;

describe.runIf(redisUrl)("BullMQ, as the proof of a pack's add relies on it (real Redis)", () => {
  it('keeps a deduplication key with a ttl after its job has completed and been removed', async () => {
    const prefix = uniquePrefix();
    const connection = { url: redisUrl };
    const queue = new Queue('proof', { connection, prefix });
    const worker = new Worker('proof', async () => undefined, { connection, prefix });
    const id = randomUUID();
    try {
      await queue.add('pack', [], { jobId: id, removeOnComplete: true, deduplication: { id, ttl: 60_000 } });
      await expect.poll(async () => (await queue.getJob(id)) ?? null, { timeout: 5000 }).toBeNull();
      expect(await queue.getDeduplicationJobId(id)).toBe(id);
    } finally {
      await worker.close();
      await queue.close();
      await deleteRedisKeys(redisUrl!, prefix);
    }
  });
});

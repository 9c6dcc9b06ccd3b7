import { EventEmitter2 } from '@nestjs/event-emitter';
import { Registry } from 'prom-client';
import type { Repository } from 'typeorm';
import type { MessageSendAck } from '#protocol';
import { describe, expect, it } from 'vitest';
import { Lifecycle, type MessageCreatedEvent } from '../common/lifecycle-events.js';
import type { LiveDelivery } from '../common/live-delivery.js';
import { loadConfig } from '../config/load-config.js';
import type { OfflineService } from '../offline/offline.service.js';
import type { PresenceService } from '../presence/presence.service.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { MemoryLimiterStore } from '../rate-limit/limiter-store.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { EnqueueUncertain, JobQueue } from '../persistence/job-queue.js';
import type { JobName, JobPayloads } from '../persistence/job-registry.js';
import { type Claim, IdempotencyStore } from './idempotency.store.js';
import type { MessageEntity } from './message.entity.js';
import { MessagingService } from './messaging.service.js';
import { LocalRoomLog, type RoomLog, type StoredSeqReader } from './room-log.js';

class Held {
  constructor(readonly holder: string) {}
}
class Prepared {
  constructor(
    readonly holder: string,
    readonly result: unknown,
  ) {}
}

/** In-memory stand-ins for the ports; the real implementations are tested against real servers. */
class MemoryIdempotency extends IdempotencyStore {
  readonly entries = new Map<string, unknown>();
  async claim(device: string, id: string, holder: string): Promise<Claim> {
    const key = `${device}/${id}`;
    if (!this.entries.has(key)) {
      this.entries.set(key, new Held(holder));
      return { state: 'claimed' };
    }
    const value = this.entries.get(key);
    if (value instanceof Held) return { state: 'pending', holder: value.holder };
    if (value instanceof Prepared)
      return { state: 'pending', holder: value.holder, prepared: value.result as MessageSendAck };
    return { state: 'done', result: value as MessageSendAck };
  }
  async takeOver(device: string, id: string, from: string, holder: string) {
    const value = this.entries.get(`${device}/${id}`);
    if (!(value instanceof Held) || value.holder !== from) return false;
    this.entries.set(`${device}/${id}`, new Held(holder));
    return true;
  }
  async prepare<T>(device: string, id: string, holder: string, result: T) {
    this.entries.set(`${device}/${id}`, new Prepared(holder, result));
  }
  async complete<T>(device: string, id: string, result: T) {
    this.entries.set(`${device}/${id}`, result);
  }
  async release(device: string, id: string) {
    this.entries.delete(`${device}/${id}`);
  }
  async confirm(device: string, id: string) {
    const value = this.entries.get(`${device}/${id}`);
    if (!(value instanceof Prepared)) return false;
    this.entries.set(`${device}/${id}`, value.result);
    return true;
  }
}

class ScriptedQueue extends JobQueue {
  readonly jobs: Array<JobPayloads[JobName.PersistMessage]> = [];
  failNext = 0;
  /** The next add goes unanswered; `answer(true)` then says Redis had stored it, `answer(false)` not. */
  uncertainNext(): { answer(stored: boolean): Promise<void> } {
    let answer!: (stored: boolean) => void;
    const stored = new Promise<boolean>((resolve) => (answer = resolve));
    this.uncertain = { stored };
    return {
      answer: async (isStored) => {
        answer(isStored);
        // Let the follow-ups (delivery, the claim) run.
        await new Promise((resolve) => setTimeout(resolve, 10));
      },
    };
  }
  private uncertain?: { stored: Promise<boolean> };
  async enqueue<N extends JobName>(_name: N, data: JobPayloads[N]) {
    if (this.failNext > 0) {
      this.failNext--;
      throw RoomcastError.unavailable('redis down');
    }
    const uncertain = this.uncertain;
    if (uncertain) {
      this.uncertain = undefined;
      void uncertain.stored.then((stored) => stored && this.jobs.push(data as (typeof this.jobs)[number]));
      throw new EnqueueUncertain('redis went away', uncertain.stored);
    }
    this.jobs.push(data as JobPayloads[JobName.PersistMessage]);
  }
  record() {}
  schedule() {}
  counts(): never {
    throw new Error('unused');
  }
  failed(): never {
    throw new Error('unused');
  }
  retryFailed(): never {
    throw new Error('unused');
  }
}

function service(env: Record<string, string> = {}) {
  const config = loadConfig({ TEXT_MAX_CHARS: '10', CONTENT_MAX_BYTES: '100', NODE_ID: 'here', ...env });
  const events = new EventEmitter2();
  const delivered: MessageCreatedEvent[] = [];
  events.on(Lifecycle.MessageCreated, (e: MessageCreatedEvent) => delivered.push(e));
  const queue = new ScriptedQueue();
  const idempotency = new MemoryIdempotency();
  const log: RoomLog = new LocalRoomLog({ maxSeq: async () => 0 } as unknown as StoredSeqReader);
  const live = { toDevice: () => false, toRoom: () => 0 } as unknown as LiveDelivery;
  const offline = { store: async () => undefined } as unknown as OfflineService;
  const deadNodes = new Set<string>();
  const presence = {
    members: async () => [],
    isNodeAlive: async (node: string) => !deadNodes.has(node),
  } as unknown as PresenceService;
  const messaging = new MessagingService(
    log,
    idempotency,
    queue,
    events,
    live,
    offline,
    presence,
    config,
    new RateLimitService(config, new MemoryLimiterStore(), new Registry()),
    {} as Repository<MessageEntity>,
  );
  return { messaging, queue, delivered, idempotency, log, deadNodes };
}

const author = { deviceId: 'd1', identity: 'alice', sessionId: 's1' };
const text = (content: string) => ({ roomId: 'R1', kind: 'text' as const, content });

describe('MessagingService', () => {
  it('refuses a room message over RATE_ROOM_MSGS_PER_SEC before it takes a seq', async () => {
    const { messaging, queue, delivered } = service({ RATE_ROOM_MSGS_PER_SEC: '2' });
    await messaging.sendToRoom(author, text('a'));
    await messaging.sendToRoom(author, text('b'));
    await expect(messaging.sendToRoom(author, text('c'))).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    // Another room has its own allowance and its own seq.
    const other = await messaging.sendToRoom(author, { ...text('d'), roomId: 'R2' });
    expect(other.ack.seq).toBe(1);
    expect(delivered.map((e) => [e.message.room_id, e.message.seq])).toEqual([
      ['R1', 1],
      ['R1', 2],
      ['R2', 1],
    ]);
    expect(queue.jobs).toHaveLength(3);
  });

  it('acks after the job is queued and publishes the message once, in seq order', async () => {
    const { messaging, queue, delivered } = service();
    const acks = await Promise.all(['a', 'b', 'c'].map((c) => messaging.sendToRoom(author, text(c))));
    expect(acks.map((r) => r.ack.seq)).toEqual([1, 2, 3]);
    expect(queue.jobs.map((j) => j.seq)).toEqual([1, 2, 3]);
    expect(delivered.map((e) => e.message.seq)).toEqual([1, 2, 3]);
    expect(delivered[0]).toMatchObject({
      sessionId: 's1',
      message: { room_id: 'R1', kind: 'text', content: 'a', from: { device_id: 'd1', identity: 'alice' } },
    });
  });

  it('returns the first ack for a repeated client id and neither stores nor publishes again', async () => {
    const { messaging, queue, delivered } = service();
    const first = await messaging.sendToRoom(author, text('once'), 'req-1');
    const again = await messaging.sendToRoom(author, text('once'), 'req-1');
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ ack: first.ack, duplicate: true });
    expect(queue.jobs).toHaveLength(1);
    expect(delivered).toHaveLength(1);
    // The same id from another device is another message.
    expect((await messaging.sendToRoom({ ...author, deviceId: 'd2' }, text('once'), 'req-1')).duplicate).toBe(
      false,
    );
  });

  it('answers CONFLICT, with a wait, while the same id is in progress on a live node (this one or another)', async () => {
    const { messaging, idempotency, queue } = service();
    for (const holder of ['here', 'elsewhere']) {
      await idempotency.claim('d1', `busy-${holder}`, holder);
      await expect(messaging.sendToRoom(author, text('x'), `busy-${holder}`)).rejects.toMatchObject({
        code: 'CONFLICT',
        retryAfterMs: expect.any(Number),
      });
    }
    expect(queue.jobs).toHaveLength(0);
  });

  it('takes over the claim of a dead node that numbered nothing, and sends anew once', async () => {
    const { messaging, idempotency, queue, delivered, deadNodes } = service();
    await idempotency.claim('d1', 'lost', 'gone');
    deadNodes.add('gone');
    const sent = await messaging.sendToRoom(author, text('x'), 'lost');
    expect(sent).toMatchObject({ duplicate: false, ack: { seq: 1 } });
    expect(queue.jobs).toHaveLength(1);
    expect(delivered).toHaveLength(1);
    expect(await messaging.sendToRoom(author, text('x'), 'lost')).toEqual({ ack: sent.ack, duplicate: true });
  });

  it('adopts the message a dead node left in the room log unannounced', async () => {
    const { messaging, idempotency, queue, delivered, log, deadNodes } = service();
    const kept = {
      message_id: 'm-kept',
      room_id: 'R1',
      seq: 4,
      ts: 99,
      kind: 'text' as const,
      content: 'x',
      from: { device_id: 'd1', identity: 'alice' },
    };
    log.findSent = async (roomId, sentAs) =>
      roomId === 'R1' && sentAs === 'd1\u0000numbered' ? kept : undefined;
    await idempotency.claim('d1', 'numbered', 'gone');
    deadNodes.add('gone');
    const again = await messaging.sendToRoom(author, text('x'), 'numbered');
    expect(again).toEqual({ ack: { message_id: 'm-kept', seq: 4, ts: 99 }, duplicate: true });
    expect(queue.jobs).toEqual([expect.objectContaining({ messageId: 'm-kept', seq: 4 })]);
    expect(delivered.map((e) => e.message.message_id)).toEqual(['m-kept']);
  });

  it('adopts the announced message of a first attempt that never answered, instead of sending a new one', async () => {
    const { messaging, queue, delivered, idempotency, deadNodes } = service();
    // The first attempt numbered and announced its message, then its process died: it may or
    // may not have been queued. While its node counts as alive, it may still finish.
    await idempotency.claim('d1', 'orphan', 'gone');
    const announced = { message_id: 'm-orphan', seq: 7, ts: 1234 };
    await idempotency.prepare('d1', 'orphan', 'gone', announced);
    await expect(messaging.sendToRoom(author, text('x'), 'orphan')).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    deadNodes.add('gone');
    const again = await messaging.sendToRoom(author, text('x'), 'orphan');
    expect(again).toEqual({ ack: announced, duplicate: true });
    expect(queue.jobs).toEqual([
      expect.objectContaining({
        messageId: 'm-orphan',
        seq: 7,
        sentAt: 1234,
        roomId: 'R1',
        content: '"x"',
        clientMsgId: 'orphan',
      }),
    ]);
    expect(delivered.map((e) => e.message)).toEqual([
      expect.objectContaining({ message_id: 'm-orphan', seq: 7, room_id: 'R1', content: 'x' }),
    ]);
    expect(idempotency.entries.get('d1/orphan')).toEqual(announced);
    expect(await messaging.sendToRoom(author, text('x'), 'orphan')).toEqual(again);
    expect(queue.jobs).toHaveLength(1);
  });

  it('announces the ack before the message is queued', async () => {
    const { messaging, queue, idempotency } = service();
    queue.failNext = 1;
    const seenBeforeEnqueue: unknown[] = [];
    const prepare = idempotency.prepare.bind(idempotency);
    idempotency.prepare = async (d, id, holder, result) => {
      seenBeforeEnqueue.push({ holder, result, queued: queue.jobs.length });
      await prepare(d, id, holder, result);
    };
    await expect(messaging.sendToRoom(author, text('y'), 'ann')).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(seenBeforeEnqueue).toEqual([
      {
        holder: 'here',
        result: { message_id: expect.any(String), seq: 1, ts: expect.any(Number) },
        queued: 0,
      },
    ]);
    // A failed attempt releases its claim: the retry is a new send.
    expect((await messaging.sendToRoom(author, text('y'), 'ann')).duplicate).toBe(false);
  });

  it("hands the announcement to the room log's append where the store makes one, and then prepares nothing", async () => {
    const { messaging, idempotency, log } = service();
    const announce = { key: 'claim', before: 'before-seq', after: 'after-seq' };
    const asked: unknown[] = [];
    idempotency.announcement = (...args) => (asked.push(args), announce);
    const appended: unknown[] = [];
    const append = log.append.bind(log);
    log.append = (roomId, message, sentAs, a) => (appended.push(a), append(roomId, message, sentAs, a));
    let prepares = 0;
    idempotency.prepare = async () => void prepares++;
    const { ack } = await messaging.sendToRoom(author, text('z'), 'folded');
    expect(asked).toEqual([
      ['d1', 'folded', 'here', expect.objectContaining({ message_id: ack.message_id, ts: ack.ts })],
    ]);
    expect(appended).toEqual([announce]);
    expect(prepares).toBe(0);
  });

  it('on a failed enqueue: answers UNAVAILABLE, publishes nothing, hands back the seq and the id', async () => {
    const { messaging, queue, delivered } = service();
    await messaging.sendToRoom(author, text('one'));
    queue.failNext = 1;
    await expect(messaging.sendToRoom(author, text('lost'), 'retry-me')).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(delivered).toHaveLength(1);
    // The retry with the same id goes through, and the seq has no gap.
    const retry = await messaging.sendToRoom(author, text('lost'), 'retry-me');
    expect(retry).toMatchObject({ duplicate: false, ack: { seq: 2 } });
  });

  it('keeps the seq and the claim of a send whose add went unanswered; stored after all, it is delivered late and its repeat gets its ack', async () => {
    const { messaging, queue, delivered, idempotency } = service();
    const redis = queue.uncertainNext();
    await expect(messaging.sendToRoom(author, text('maybe'), 'unsure')).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    const announced = (idempotency.entries.get('d1/unsure') as Prepared).result;
    await expect(messaging.sendToRoom(author, text('maybe'), 'unsure')).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(delivered).toHaveLength(0);
    // Another send meanwhile takes the next seq: the first one's is not given back.
    expect((await messaging.sendToRoom(author, text('next'))).ack.seq).toBe(2);

    await redis.answer(true);
    expect(delivered.map((e) => [e.message.seq, e.message.content])).toEqual([
      [2, 'next'],
      [1, 'maybe'],
    ]);
    expect(await messaging.sendToRoom(author, text('maybe'), 'unsure')).toEqual({
      ack: announced,
      duplicate: true,
    });
    expect(queue.jobs.map((j) => j.content)).toEqual(['"next"', '"maybe"']);
  });

  it('gives back the seq and the claim of a send whose add went unanswered once Redis says it was not stored', async () => {
    const { messaging, queue, delivered } = service();
    const redis = queue.uncertainNext();
    await expect(messaging.sendToRoom(author, text('maybe'), 'unsure')).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    await redis.answer(false);
    expect(delivered).toHaveLength(0);
    const retry = await messaging.sendToRoom(author, text('maybe'), 'unsure');
    expect(retry).toMatchObject({ duplicate: false, ack: { seq: 1 } });
    expect(queue.jobs).toHaveLength(1);
  });

  it('delivers late a direct message whose add went unanswered but which Redis had stored', async () => {
    const { messaging, queue, delivered } = service();
    const redis = queue.uncertainNext();
    const direct = { toDeviceId: 'd2', kind: 'text' as const, content: 'psst' };
    await expect(messaging.sendDirect(author, direct, 'dm')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(delivered).toHaveLength(0);
    await redis.answer(true);
    expect(delivered.map((e) => e.message)).toEqual([
      expect.objectContaining({ to_device_id: 'd2', content: 'psst' }),
    ]);
    expect(await messaging.sendDirect(author, direct, 'dm')).toMatchObject({ duplicate: true });
    expect(queue.jobs).toHaveLength(1);
  });

  it('refuses content that does not fit its kind, before taking a seq', async () => {
    const { messaging, queue } = service();
    await expect(
      messaging.sendToRoom(author, { roomId: 'R1', kind: 'text', content: '' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      messaging.sendToRoom(author, { roomId: 'R1', kind: 'file', content: { url: 'u', size: -1 } }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(queue.jobs).toHaveLength(0);
    expect(
      (
        await messaging.sendToRoom(author, {
          roomId: 'R1',
          kind: 'image',
          content: { url: 'https://x/y.png', mime: 'image/png', size: 10 },
        })
      ).ack.seq,
    ).toBe(1);
  });
});

import type { ServerEventMap } from '#protocol';
import type { Repository } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it, vi } from 'vitest';
import { LiveDelivery } from '../common/live-delivery.js';
import type { MessageEntity } from '../messaging/message.entity.js';
import type { MessagingService } from '../messaging/messaging.service.js';
import type { JobQueue } from '../persistence/job-queue.js';
import type { JobName, JobPayloads } from '../persistence/job-registry.js';
import { ReadStateCache } from './read-state.cache.js';
import type { ReadStateEntity } from './read-state.entity.js';
import { ReceiptsService } from './receipts.service.js';

class RecordingDelivery extends LiveDelivery {
  readonly sent: Array<{ to: string; except?: string; data: ServerEventMap['receipt'] }> = [];
  async toDevice<T extends keyof ServerEventMap>(
    deviceId: string,
    _type: T,
    data: ServerEventMap[T],
  ): Promise<boolean> {
    this.sent.push({ to: `device:${deviceId}`, data: data as ServerEventMap['receipt'] });
    return true;
  }
  async toRoom<T extends keyof ServerEventMap>(
    roomId: string,
    _type: T,
    data: ServerEventMap[T],
    exceptSessionId?: string,
  ): Promise<void> {
    this.sent.push({
      to: `room:${roomId}`,
      except: exceptSessionId,
      data: data as ServerEventMap['receipt'],
    });
  }
}

type Job = JobPayloads[JobName.ReadStateUpdated];

/** The service over in-memory stand-ins: stored read state, stored messages, last seqs. */
function setup(
  opts: { stored?: Partial<ReadStateEntity>[]; messages?: Partial<MessageEntity>[]; lastSeq?: number } = {},
) {
  const jobs: Job[] = [];
  const queue = { record: (_name: JobName, data: Job) => jobs.push(data) } as unknown as JobQueue;
  const messaging = { lastSeq: async () => opts.lastSeq ?? 10 } as unknown as MessagingService;
  const live = new RecordingDelivery();
  const stored = opts.stored ?? [];
  const readStates = {
    findOneBy: async (where: { deviceId: string; scope: string }) =>
      stored.find((r) => r.deviceId === where.deviceId && r.scope === where.scope) ?? null,
    findBy: async (where: { deviceId: string }) => stored.filter((r) => r.deviceId === where.deviceId),
  } as unknown as Repository<ReadStateEntity>;
  const messages = {
    findOne: async ({ where }: { where: { messageId: string } }) =>
      (opts.messages ?? []).find((m) => m.messageId === where.messageId) ?? null,
  } as unknown as Repository<MessageEntity>;
  const receipts = new ReceiptsService(messaging, queue, live, readStates, messages);
  return { receipts, jobs, live };
}

const ann = { deviceId: 'ann', identity: 'Ann', sessionId: 's-ann' };

describe('ReceiptsService.markRead', () => {
  it('moves a room marker forward only, with one job and one receipt per move', async () => {
    const { receipts, jobs, live } = setup();
    expect(await receipts.markRead(ann, { roomId: 'R1', upToSeq: 3 })).toBe(true);
    expect(await receipts.markRead(ann, { roomId: 'R1', upToSeq: 2 })).toBe(false);
    expect(await receipts.markRead(ann, { roomId: 'R1', upToSeq: 3 })).toBe(false);
    expect(await receipts.markRead(ann, { roomId: 'R1', upToSeq: 5 })).toBe(true);
    expect(jobs.map((j) => [j.deviceId, j.scope, j.upToSeq, j.upToMessageId])).toEqual([
      ['ann', 'room:R1', 3, null],
      ['ann', 'room:R1', 5, null],
    ]);
    expect(live.sent).toEqual([
      { to: 'room:R1', except: 's-ann', data: { room_id: 'R1', device_id: 'ann', up_to_seq: 3 } },
      { to: 'room:R1', except: 's-ann', data: { room_id: 'R1', device_id: 'ann', up_to_seq: 5 } },
    ]);
  });

  it('compares with the stored marker when this node has none', async () => {
    const { receipts, jobs } = setup({
      stored: [{ deviceId: 'ann', scope: 'room:R1', upToSeq: 7, upToMessageId: null }],
    });
    expect(await receipts.markRead(ann, { roomId: 'R1', upToSeq: 5 })).toBe(false);
    expect(await receipts.markRead(ann, { roomId: 'R1', upToSeq: 8 })).toBe(true);
    expect(jobs).toHaveLength(1);
  });

  it('refuses a seq beyond the last one (BAD_REQUEST)', async () => {
    const { receipts } = setup({ lastSeq: 4 });
    await expect(receipts.markRead(ann, { roomId: 'R1', upToSeq: 5 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('moves a conversation marker forward by message order and tells the peer', async () => {
    const [m1, m2] = [uuidv7(), uuidv7()];
    const messages = [m1, m2].map((messageId) => ({ messageId, conversation: 'ann|bob' }));
    const { receipts, jobs, live } = setup({ messages });
    expect(await receipts.markRead(ann, { peerDeviceId: 'bob', upToMessageId: m2 })).toBe(true);
    expect(await receipts.markRead(ann, { peerDeviceId: 'bob', upToMessageId: m1 })).toBe(false);
    expect(jobs.map((j) => [j.scope, j.upToSeq, j.upToMessageId])).toEqual([['peer:bob', null, m2]]);
    expect(live.sent).toEqual([
      { to: 'device:bob', data: { peer_device_id: 'ann', device_id: 'ann', up_to_message_id: m2 } },
    ]);
  });

  it('answers NOT_FOUND for a message of another conversation, or none (after waiting for the writer)', async () => {
    const other = uuidv7();
    const { receipts, live } = setup({ messages: [{ messageId: other, conversation: 'bob|cat' }] });
    await expect(receipts.markRead(ann, { peerDeviceId: 'bob', upToMessageId: other })).rejects.toMatchObject(
      {
        code: 'NOT_FOUND',
      },
    );
    vi.useFakeTimers();
    try {
      const missing = receipts.markRead(ann, { peerDeviceId: 'bob', upToMessageId: uuidv7() });
      const settled = expect(missing).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await vi.advanceTimersByTimeAsync(2000);
      await settled;
    } finally {
      vi.useRealTimers();
    }
    expect(live.sent).toEqual([]);
  });
});

describe('ReceiptsService.unreadFor (rooms)', () => {
  it('counts from the furthest of the stored and the cached marker, never below 0', async () => {
    const { receipts } = setup({
      lastSeq: 10,
      stored: [{ deviceId: 'ann', scope: 'room:R1', upToSeq: 4, upToMessageId: null }],
    });
    expect(await receipts.unreadFor('ann', { roomId: 'R1' })).toEqual({
      roomId: 'R1',
      unread: 6,
      upToSeq: 4,
      lastSeq: 10,
    });
    await receipts.markRead(ann, { roomId: 'R1', upToSeq: 9 });
    expect(await receipts.unreadFor('ann', { roomId: 'R1' })).toEqual({
      roomId: 'R1',
      unread: 1,
      upToSeq: 9,
      lastSeq: 10,
    });
    expect(await receipts.unreadFor('ann', { roomId: 'R2' })).toEqual({
      roomId: 'R2',
      unread: 10,
      upToSeq: 0,
      lastSeq: 10,
    });
  });
});

describe('ReadStateCache', () => {
  it('keeps the further marker and forgets the least recently used devices', () => {
    const cache = new ReadStateCache(2, 2);
    cache.merge('a', 'room:R', { upToSeq: 5, upToMessageId: null });
    cache.merge('a', 'room:R', { upToSeq: 3, upToMessageId: null });
    expect(cache.get('a', 'room:R')).toEqual({ upToSeq: 5, upToMessageId: null });
    cache.merge('b', 'room:R', { upToSeq: 1, upToMessageId: null });
    cache.get('a', 'room:R');
    cache.merge('c', 'room:R', { upToSeq: 1, upToMessageId: null });
    expect(cache.size).toBe(2);
    expect(cache.get('b', 'room:R')).toBeUndefined();
    expect(cache.get('a', 'room:R')).toBeDefined();
    // Per device, the most recently set scopes are kept.
    cache.merge('a', 'room:S', { upToSeq: 1, upToMessageId: null });
    cache.merge('a', 'room:T', { upToSeq: 1, upToMessageId: null });
    expect([...cache.scopes('a').keys()]).toEqual(['room:S', 'room:T']);
  });
});

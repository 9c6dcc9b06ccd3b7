import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { ErrorCode, type MessageKind, type MessagePayload, type MessageSendAck } from '#protocol';
import { Repository } from 'typeorm';
import { timeOrderedId } from '../common/time-ordered-id.js';
import { AppConfig } from '../config/app-config.js';
import { RateLimitService } from '../rate-limit/rate-limit.service.js';
import { Lifecycle, type MessageCreatedEvent } from '../common/lifecycle-events.js';
import { LiveDelivery } from '../common/live-delivery.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { OfflineService } from '../offline/offline.service.js';
import { EnqueueUncertain, JobQueue } from '../persistence/job-queue.js';
import { JobName, type PersistMessageJob } from '../persistence/job-registry.js';
import { PresenceService } from '../presence/presence.service.js';
import { IdempotencyStore } from './idempotency.store.js';
import { validateContent } from './message-content.js';
import { MessageEntity } from './message.entity.js';
import { type Appended, RoomLog, type UnnumberedMessage } from './room-log.js';

export interface Author {
  deviceId: string;
  identity: string;
  sessionId: string;
}

export interface OutgoingMessage {
  kind: MessageKind;
  content: unknown;
  mentions?: string[];
}

export interface RoomMessage extends OutgoingMessage {
  roomId: string;
}

export interface DirectMessage extends OutgoingMessage {
  toDeviceId: string;
}

export interface SendResult {
  ack: MessageSendAck;
  /** True when the client id was seen before: the first ack is returned and nothing is delivered. */
  duplicate: boolean;
}

export interface HistoryQuery {
  /** Newest first, below this cursor (a seq for rooms, a message id for conversations). */
  before?: number | string;
  /** Oldest first, above this cursor. */
  after?: number | string;
  limit: number;
}

export interface HistoryPage<Cursor extends number | string> {
  messages: MessagePayload[];
  /** Pass as before/after for the next page in the same direction; null when there is none. */
  nextCursor: Cursor | null;
}

export interface Replay {
  messages: MessagePayload[];
  fromSeq: number;
  toSeq: number;
  /** False when messages in the range no longer exist anywhere, or more than RESUME_MAX_MESSAGES were missed. */
  complete: boolean;
}

/** Both devices of a direct conversation, in one order whichever of them sends. */
export const conversationOf = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);

/** What the sender is answered: the same for the first send and every repeat of its id. */
const ackOf = (message: MessagePayload): MessageSendAck => ({
  message_id: message.message_id,
  ...(message.seq !== undefined ? { seq: message.seq } : {}),
  ts: message.ts,
});

/** The message a send stands for, from its ack (id, seq, time) and the request. */
const messageOf = (
  author: Author,
  ack: MessageSendAck,
  msg: OutgoingMessage,
  to: { room_id: string } | { to_device_id: string },
): MessagePayload => ({
  message_id: ack.message_id,
  ...to,
  from: { device_id: author.deviceId, identity: author.identity },
  ...(ack.seq !== undefined ? { seq: ack.seq } : {}),
  ts: ack.ts,
  kind: msg.kind,
  content: msg.content,
  ...(msg.mentions?.length ? { mentions: msg.mentions } : {}),
});

/** How a send is known in the room log: its device and client id. */
const sentAs = (author: Author, requestId: string) => `${author.deviceId}\u0000${requestId}`;

/** The wait suggested to a repeat that finds its first attempt still running. */
const CONFLICT_RETRY_MS = 1000;

/** Tries at settling a failed send's claim while Redis comes back: about a claim's lifetime (30 s). */
const SETTLE_ATTEMPTS = 120;
const SETTLE_RETRY_MS = 250;

/** While the writer catches up with the queue, a just-sent message may not be in the database yet. */
const LOOKUP_ATTEMPTS = 10;
const LOOKUP_INTERVAL_MS = 100;

/**
 * Accepting messages (room seq, durability, idempotency, direct and mention delivery),
 * recall, history and replay. Knows nothing of sockets: room messages are published as
 * MessageCreated events for the gateway to fan out; devices are reached through LiveDelivery,
 * and the offline inbox when they are not connected.
 */
@Injectable()
export class MessagingService {
  private readonly logger = new Logger(MessagingService.name);
  /** Per room, the tail of the chain of sends in progress: one room's sends run one at a time. */
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly log: RoomLog,
    private readonly idempotency: IdempotencyStore,
    private readonly jobs: JobQueue,
    private readonly events: EventEmitter2,
    private readonly live: LiveDelivery,
    private readonly offline: OfflineService,
    private readonly presence: PresenceService,
    private readonly config: AppConfig,
    private readonly limits: RateLimitService,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
  ) {}

  /**
   * Accepts a message for a room. Resolves once it is durable (queued in Redis, or written
   * in embedded mode) and published, with mentions of absent devices delivered or kept.
   */
  async sendToRoom(author: Author, msg: RoomMessage, requestId?: string): Promise<SendResult> {
    validateContent(msg.kind, msg.content, this.config);
    return this.once(author, requestId, {
      send: async () => {
        const message = await this.acceptInRoom(author, msg, requestId);
        await this.mention(message);
        return ackOf(message);
      },
      // Numbered by the dead node, maybe published: members that have it drop the repeat by
      // its seq; for the others it is late (an older seq), which beats lost.
      adopt: async (ack) => {
        const message = messageOf(author, ack, msg, { room_id: msg.roomId });
        await this.persist(message, requestId);
        this.publish(message, author, requestId);
      },
      find: async () => {
        const kept = await this.log.findSent(msg.roomId, sentAs(author, requestId!));
        return kept && ackOf(kept);
      },
    });
  }

  /**
   * Accepts a direct message: live to the device when it is connected, else kept in its
   * offline inbox before the ack. Stored in the conversation's history either way.
   */
  async sendDirect(author: Author, msg: DirectMessage, requestId?: string): Promise<SendResult> {
    validateContent(msg.kind, msg.content, this.config);
    return this.once(author, requestId, {
      send: async () => {
        const message = messageOf(author, { message_id: timeOrderedId(), ts: Date.now() }, msg, {
          to_device_id: msg.toDeviceId,
        });
        try {
          await this.persist(message, requestId);
        } catch (err) {
          if (!(err instanceof EnqueueUncertain)) throw err;
          throw err.follow(async (stored) => {
            if (stored) await this.late(message, () => this.deliverDirect(message, author, requestId));
          });
        }
        await this.deliverDirect(message, author, requestId);
        return ackOf(message);
      },
      // Delivery may be missing too; it is keyed by the message id, so a repeat is dropped.
      adopt: async (ack) => {
        const message = messageOf(author, ack, msg, { to_device_id: msg.toDeviceId });
        await this.persist(message, requestId);
        await this.deliverDirect(message, author, requestId);
      },
    });
  }

  private async deliverDirect(message: MessagePayload, author: Author, requestId?: string): Promise<void> {
    const to = message.to_device_id!;
    if (!(await this.live.toDevice(to, 'message', message, { dedupeKey: message.message_id }))) {
      await this.offline.store([
        { deviceId: to, kind: 'message', payload: message, dedupeKey: message.message_id },
      ]);
    }
    this.publish(message, author, requestId);
  }

  /** Hands the message to the gateway (MessageCreated) for delivery to the room's members. */
  private publish(message: MessagePayload, author: Author, requestId?: string, relayFrame?: string): void {
    const event: MessageCreatedEvent = { message, sessionId: author.sessionId, requestId, relayFrame };
    this.events.emit(Lifecycle.MessageCreated, event);
  }

  /**
   * Room-manager relay: the frame goes to the other members exactly as sent and is stored
   * as a message of `kind` with the parsed frame as content.
   */
  async relay(
    author: Author,
    roomId: string,
    frameText: string,
    content: unknown,
    kind: MessageKind,
  ): Promise<void> {
    await this.acceptInRoom(author, { roomId, kind, content }, undefined, frameText);
  }

  /**
   * Recalls a message: only its sender, within RECALL_WINDOW_MS (an admin: any message, any
   * time). The message stays stored, marked recalled; everyone who could see it is told.
   */
  async recall(by: Author | { admin: string }, messageId: string): Promise<MessagePayload> {
    const row = await this.find(messageId);
    if (!row) throw RoomcastError.notFound(`message ${messageId} does not exist`);
    const message = toPayload(row);
    if ('deviceId' in by) {
      if (row.fromDeviceId !== by.deviceId)
        throw new RoomcastError(ErrorCode.FORBIDDEN, 'only the sender may recall a message');
      if (Date.now() - row.sentAt.getTime() > this.config.RECALL_WINDOW_MS) {
        throw new RoomcastError(
          ErrorCode.FORBIDDEN,
          `the recall window (${this.config.RECALL_WINDOW_MS} ms) has passed`,
        );
      }
    }
    if (row.recalledAt) return message;
    const byId = 'deviceId' in by ? by.deviceId : by.admin;
    await this.jobs.enqueue(
      JobName.MessageRecalled,
      { messageId, by: byId, at: Date.now() },
      `recall-${messageId}`,
    );
    const recalled = { message_id: messageId, by: byId, ...(row.roomId ? { room_id: row.roomId } : {}) };
    if (row.roomId) {
      await this.live.toRoom(row.roomId, 'message.recalled', recalled);
    } else {
      // The recipient, wherever it is: live, or its inbox loses the message and gains the notice.
      for (const device of [row.toDeviceId!, row.fromDeviceId]) {
        if (device === byId) continue;
        if (!(await this.live.toDevice(device, 'message.recalled', recalled)))
          await this.offline.discard(device, messageId);
      }
    }
    return { ...message, content: null, recalled: true };
  }

  /** A room's messages by seq, newest first (before) or oldest first (after); recent ones included before they are written. */
  async roomHistory(roomId: string, query: HistoryQuery): Promise<HistoryPage<number>> {
    const ascending = query.after !== undefined;
    const bound = Number(ascending ? query.after : (query.before ?? Number.MAX_SAFE_INTEGER));
    const qb = this.messages
      .createQueryBuilder('m')
      .where('m.room_id = :roomId', { roomId })
      .andWhere(ascending ? 'm.seq > :bound' : 'm.seq < :bound', { bound })
      .orderBy('m.seq', ascending ? 'ASC' : 'DESC')
      .take(query.limit + 1);
    const [rows, recent] = await Promise.all([qb.getMany(), this.log.since(roomId, ascending ? bound : 0)]);
    const bySeq = new Map<number, MessagePayload>();
    for (const m of recent) if (ascending ? m.seq! > bound : m.seq! < bound) bySeq.set(m.seq!, m);
    for (const row of rows) bySeq.set(Number(row.seq), toPayload(row));
    const sorted = [...bySeq.values()].sort((a, b) => (ascending ? a.seq! - b.seq! : b.seq! - a.seq!));
    const page = sorted.slice(0, query.limit);
    return { messages: page, nextCursor: sorted.length > query.limit ? page[page.length - 1].seq! : null };
  }

  /** A direct conversation by message id (ids are time-ordered UUIDv7), newest or oldest first. */
  async conversationHistory(
    deviceId: string,
    peerDeviceId: string,
    query: HistoryQuery,
  ): Promise<HistoryPage<string>> {
    const ascending = query.after !== undefined;
    const qb = this.messages
      .createQueryBuilder('m')
      .where('m.conversation = :conversation', { conversation: conversationOf(deviceId, peerDeviceId) })
      .orderBy('m.message_id', ascending ? 'ASC' : 'DESC')
      .take(query.limit + 1);
    if (ascending) qb.andWhere('m.message_id > :after', { after: String(query.after) });
    else if (query.before !== undefined)
      qb.andWhere('m.message_id < :before', { before: String(query.before) });
    const rows = await qb.getMany();
    const page = rows.slice(0, query.limit).map(toPayload);
    return {
      messages: page,
      nextCursor: rows.length > query.limit ? page[page.length - 1].message_id : null,
    };
  }

  /** Every room message after `afterSeq`, once, in seq order: recent ones from the log, older ones from the database. */
  replay(roomId: string, afterSeq: number): Promise<Replay> {
    // In the room's chain: every message accepted before is stored (or logged) and readable.
    return this.inRoomOrder(roomId, () => this.readMissed(roomId, afterSeq));
  }

  private async readMissed(roomId: string, afterSeq: number): Promise<Replay> {
    const current = await this.log.current(roomId);
    const wanted = Math.min(current, afterSeq + this.config.RESUME_MAX_MESSAGES);
    if (wanted <= afterSeq) return { messages: [], fromSeq: afterSeq + 1, toSeq: afterSeq, complete: true };
    const recent = (await this.log.since(roomId, afterSeq)).filter((m) => m.seq! <= wanted);
    const firstRecent = recent[0]?.seq ?? wanted + 1;
    const older =
      firstRecent > afterSeq + 1
        ? (
            await this.messages
              .createQueryBuilder('m')
              .where('m.room_id = :roomId', { roomId })
              .andWhere('m.seq > :afterSeq AND m.seq < :firstRecent', { afterSeq, firstRecent })
              .orderBy('m.seq', 'ASC')
              .getMany()
          ).map(toPayload)
        : [];
    const messages = [...older, ...recent];
    const recalled = await this.recalledAmong(recent.map((m) => m.message_id));
    const shown = messages.map((m) =>
      recalled.has(m.message_id) ? { ...m, content: null, recalled: true } : m,
    );
    // Complete when seqs afterSeq+1 .. current are all here, without a hole.
    const contiguous = shown.every((m, i) => m.seq === afterSeq + 1 + i);
    return {
      messages: shown,
      fromSeq: afterSeq + 1,
      toSeq: shown.length ? shown[shown.length - 1].seq! : afterSeq,
      complete: contiguous && shown.length === current - afterSeq,
    };
  }

  lastSeq(roomId: string): Promise<number> {
    return this.log.current(roomId);
  }

  /**
   * Runs a send once per (device, client id): a repeat returns the first ack. While the first
   * attempt is pending and its node is alive, a repeat gets CONFLICT (try again shortly). If
   * that node is dead (a client that lost its node sends again elsewhere), the repeat settles
   * the attempt:
   * - the attempt announced its ack, or left its message in the room log: the repeat adopts
   *   that message: makes it durable again, which is idempotent (same job id, insert keyed
   *   by message id), delivers it, and answers its ack;
   * - nothing of it is to be found: the repeat takes the claim over and sends anew.
   */
  private async once(
    author: Author,
    requestId: string | undefined,
    steps: {
      send: () => Promise<MessageSendAck>;
      adopt: (ack: MessageSendAck) => Promise<void>;
      find?: () => Promise<MessageSendAck | undefined>;
    },
  ): Promise<SendResult> {
    if (!requestId) return { ack: await steps.send(), duplicate: false };
    const node = this.config.NODE_ID;
    const claim = await this.idempotency.claim(author.deviceId, requestId, node);
    if (claim.state === 'done') return { ack: claim.result, duplicate: true };
    if (claim.state === 'pending') {
      const holder = claim.holder;
      const inProgress = new RoomcastError(
        ErrorCode.CONFLICT,
        `request ${requestId} is already in progress`,
        CONFLICT_RETRY_MS,
      );
      if (holder === undefined || holder === node || (await this.presence.isNodeAlive(holder)))
        throw inProgress;
      const announced = claim.prepared ?? (await steps.find?.());
      if (announced) {
        await steps.adopt(announced);
        this.completeClaim(author, requestId, announced);
        return { ack: announced, duplicate: true };
      }
      if (!(await this.idempotency.takeOver(author.deviceId, requestId, holder, node))) throw inProgress;
    }
    let ack: MessageSendAck;
    try {
      ack = await steps.send();
    } catch (err) {
      if (err instanceof EnqueueUncertain) this.settleClaim(author, requestId, err.stored);
      else
        await this.idempotency
          .release(author.deviceId, requestId)
          .catch(() => this.settleClaim(author, requestId, Promise.resolve(false)));
      throw err;
    }
    this.completeClaim(author, requestId, ack);
    return { ack, duplicate: false };
  }

  /**
   * A send whose message Redis may have stored keeps its claim until Redis says (a repeat
   * meanwhile gets CONFLICT): stored, the ack it announced becomes the record, and a repeat
   * is answered that ack; not stored, the claim is released and a repeat sends anew. Tried
   * again while Redis is still coming back, so that a failed send's claim does not hold its
   * repeats off until it expires.
   */
  private settleClaim(author: Author, requestId: string, stored: Promise<boolean>): void {
    const { deviceId } = author;
    const settle = async (isStored: boolean): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          if (!isStored) return await this.idempotency.release(deviceId, requestId);
          if (!(await this.idempotency.confirm(deviceId, requestId)))
            this.logger.warn(`claim of ${deviceId}/${requestId} expired before its message was found stored`);
          return;
        } catch (err) {
          if (attempt === SETTLE_ATTEMPTS) throw err;
          await new Promise((resolve) => setTimeout(resolve, SETTLE_RETRY_MS).unref());
        }
      }
    };
    void stored
      .then(settle)
      .catch((err: Error) =>
        this.logger.warn(`claim of ${deviceId}/${requestId} not settled: ${err.message}`),
      );
  }

  /**
   * Not awaited (the ack goes out meanwhile): the message is durable whatever happens here.
   * A repeat through this node is sent to Redis after the record on the same connection, so
   * it sees it; one through another node in the meantime finds the prepared ack: CONFLICT
   * while this node lives, adopted if it died. A lost record only weakens de-duplication.
   */
  private completeClaim(author: Author, requestId: string, ack: MessageSendAck): void {
    void this.idempotency
      .complete(author.deviceId, requestId, ack)
      .catch((err: Error) =>
        this.logger.warn(`idempotency record for ${author.deviceId}/${requestId} not kept: ${err.message}`),
      );
  }

  private async acceptInRoom(
    author: Author,
    msg: RoomMessage,
    requestId?: string,
    relayFrame?: string,
  ): Promise<MessagePayload> {
    // Before the room's chain: a refused message takes no seq and waits for nothing.
    await this.limits.consume('room', msg.roomId);
    return this.inRoomOrder(msg.roomId, async () => {
      const unnumbered: UnnumberedMessage = {
        message_id: timeOrderedId(),
        room_id: msg.roomId,
        from: { device_id: author.deviceId, identity: author.identity },
        ts: Date.now(),
        kind: msg.kind,
        content: msg.content,
        ...(msg.mentions?.length ? { mentions: msg.mentions } : {}),
      };
      // The ack is announced by the append itself where the store allows (one round trip fewer).
      const announcement =
        requestId === undefined
          ? undefined
          : this.idempotency.announcement(author.deviceId, requestId, this.config.NODE_ID, unnumbered);
      const appended = await this.log.append(
        msg.roomId,
        unnumbered,
        requestId === undefined ? undefined : sentAs(author, requestId),
        announcement,
      );
      const message: MessagePayload = { ...unnumbered, seq: appended.seq };
      try {
        await this.persist(message, requestId, announcement !== undefined);
      } catch (err) {
        if (!(err instanceof EnqueueUncertain)) {
          await this.giveBack(msg.roomId, appended);
          throw err;
        }
        // Redis may have the job and then writes the message: its number and log entry stay
        // until Redis says. Stored, it is delivered late (members drop a seq they have).
        throw err.follow((stored) =>
          this.inRoomOrder(msg.roomId, () =>
            stored
              ? this.late(message, async () => {
                  this.publish(message, author, requestId, relayFrame);
                  await this.mention(message);
                })
              : this.giveBack(msg.roomId, appended),
          ),
        );
      }
      // Published inside the room's chain, so listeners see one room's messages in seq order.
      this.publish(message, author, requestId, relayFrame);
      return message;
    });
  }

  /**
   * Takes a failed send's number back. Within the room's chain nobody else on this node
   * appends meanwhile, so that works unless another node took the next number.
   */
  private async giveBack(roomId: string, appended: Appended): Promise<void> {
    const taken = await this.log.retract(roomId, appended).catch(() => false);
    if (!taken) this.logger.warn(`room ${roomId}: seq ${appended.seq} left as a hole (send failed)`);
  }

  /** Delivers a message whose sender was answered UNAVAILABLE but which Redis had stored after all. */
  private async late(message: MessagePayload, deliver: () => Promise<void>): Promise<void> {
    this.logger.warn(
      `message ${message.message_id} was stored although its add went unanswered: delivered late`,
    );
    await deliver().catch((err: Error) =>
      this.logger.error(`message ${message.message_id} stored but not delivered: ${err.message}`),
    );
  }

  private async persist(
    message: MessagePayload,
    requestId: string | undefined,
    announced = false,
  ): Promise<void> {
    const job: PersistMessageJob = {
      messageId: message.message_id,
      roomId: message.room_id ?? null,
      toDeviceId: message.to_device_id ?? null,
      fromDeviceId: message.from.device_id,
      fromIdentity: message.from.identity,
      kind: message.kind,
      content: JSON.stringify(message.content),
      mentions: message.mentions ?? null,
      seq: message.seq ?? null,
      clientMsgId: requestId ?? null,
      sentAt: message.ts,
      conversation: message.to_device_id
        ? conversationOf(message.from.device_id, message.to_device_id)
        : null,
    };
    // Announced before it is durable, so that a repeat can adopt it if this process dies now.
    if (requestId !== undefined && !announced)
      await this.idempotency.prepare(message.from.device_id, requestId, this.config.NODE_ID, ackOf(message));
    try {
      await this.jobs.enqueue(JobName.PersistMessage, job, message.message_id);
    } catch (err) {
      throw err instanceof RoomcastError
        ? err
        : RoomcastError.unavailable(`message not stored: ${(err as Error).message}`);
    }
  }

  /** Mentioned devices that are not in the room get a `mention` event, live or in their inbox. */
  private async mention(message: MessagePayload): Promise<void> {
    if (!message.mentions?.length || !message.room_id) return;
    const members = new Set((await this.presence.members(message.room_id)).map((m) => m.deviceId));
    const absent = message.mentions.filter((d) => !members.has(d) && d !== message.from.device_id);
    const dedupeKey = `mention:${message.message_id}`;
    const reached = await Promise.all(
      absent.map((d) => this.live.toDevice(d, 'mention', message, { dedupeKey })),
    );
    const offline = absent.filter((_, i) => !reached[i]);
    if (!offline.length) return;
    await this.offline
      .store(
        offline.map((deviceId) => ({
          deviceId,
          kind: 'mention' as const,
          payload: message,
          dedupeKey,
        })),
      )
      .catch((err: Error) => this.logger.error(`mentions of ${message.message_id} not kept: ${err.message}`));
  }

  /** The stored message, waiting briefly for the writer when it was sent a moment ago. */
  private async find(messageId: string): Promise<MessageEntity | null> {
    for (let attempt = 1; ; attempt++) {
      const row = await this.messages.findOneBy({ messageId });
      if (row || attempt === LOOKUP_ATTEMPTS) return row;
      await new Promise((r) => setTimeout(r, LOOKUP_INTERVAL_MS));
    }
  }

  private async recalledAmong(messageIds: string[]): Promise<Set<string>> {
    if (!messageIds.length) return new Set();
    const rows = await this.messages
      .createQueryBuilder('m')
      .select('m.message_id', 'id')
      .where('m.message_id IN (:...messageIds)', { messageIds })
      .andWhere('m.recalled_at IS NOT NULL')
      .getRawMany<{ id: string }>();
    return new Set(rows.map((r) => r.id));
  }

  private inRoomOrder<T>(roomId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(roomId) ?? Promise.resolve();
    const run = previous.then(work);
    const tail = run.catch(() => undefined);
    this.tails.set(roomId, tail);
    void tail.then(() => {
      if (this.tails.get(roomId) === tail) this.tails.delete(roomId);
    });
    return run;
  }
}

/** A stored message as clients see it; recalled messages keep their place but lose their content. */
export function toPayload(row: MessageEntity): MessagePayload {
  const recalled = row.recalledAt !== null;
  return {
    message_id: row.messageId,
    ...(row.roomId ? { room_id: row.roomId } : {}),
    ...(row.toDeviceId ? { to_device_id: row.toDeviceId } : {}),
    from: { device_id: row.fromDeviceId, identity: row.fromIdentity },
    ...(row.seq !== null ? { seq: Number(row.seq) } : {}),
    ts: row.sentAt.getTime(),
    kind: row.kind as MessageKind,
    content: recalled ? null : (JSON.parse(row.content) as unknown),
    ...(row.mentions ? { mentions: JSON.parse(row.mentions) as string[] } : {}),
    ...(recalled ? { recalled: true } : {}),
  };
}

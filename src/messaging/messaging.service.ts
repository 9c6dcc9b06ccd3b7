import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectRepository } from '@nestjs/typeorm';
import { ErrorCode, type MessageKind, type MessagePayload, type MessageSendAck } from '#protocol';
import { Repository } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { Lifecycle, type MessageCreatedEvent } from '../common/lifecycle-events.js';
import { RoomcastError } from '../common/roomcast-error.js';
import { JobQueue } from '../persistence/job-queue.js';
import { JobName } from '../persistence/job-registry.js';
import { IdempotencyStore } from './idempotency.store.js';
import { validateContent } from './message-content.js';
import { MessageEntity } from './message.entity.js';
import { SeqAllocator } from './seq-allocator.js';

export interface Author {
  deviceId: string;
  identity: string;
  sessionId: string;
}

export interface RoomMessage {
  roomId: string;
  kind: MessageKind;
  content: unknown;
  mentions?: string[];
}

export interface SendResult {
  ack: MessageSendAck;
  /** True when the client id was seen before: the first ack is returned and nothing is delivered. */
  duplicate: boolean;
}

export interface HistoryQuery {
  /** Messages with a seq below this (newest first) or above `afterSeq` (oldest first). */
  beforeSeq?: number;
  afterSeq?: number;
  limit: number;
}

export interface HistoryPage {
  messages: MessagePayload[];
  /** Pass as beforeSeq/afterSeq for the next page; null when there is none. */
  nextCursor: number | null;
}

/**
 * Accepting room messages: seq, durability, idempotency, and the MessageCreated event the
 * gateway delivers. Knows nothing of sockets.
 */
@Injectable()
export class MessagingService {
  private readonly logger = new Logger(MessagingService.name);
  /** Per room, the tail of the chain of sends in progress: one room's sends run one at a time. */
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly seqs: SeqAllocator,
    private readonly idempotency: IdempotencyStore,
    private readonly jobs: JobQueue,
    private readonly events: EventEmitter2,
    @InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>,
  ) {}

  /**
   * Accepts a message for a room. Resolves once it is durable (queued in Redis, or written
   * in embedded mode), after the MessageCreated event has been published.
   */
  async sendToRoom(author: Author, msg: RoomMessage, requestId?: string): Promise<SendResult> {
    validateContent(msg.kind, msg.content);
    if (!requestId) return { ack: await this.accept(author, msg), duplicate: false };

    const claim = await this.idempotency.claim<MessageSendAck>(author.deviceId, requestId);
    if (claim.state === 'done') return { ack: claim.result, duplicate: true };
    if (claim.state === 'pending')
      throw new RoomcastError(ErrorCode.CONFLICT, `request ${requestId} is already in progress`);
    let ack: MessageSendAck;
    try {
      ack = await this.accept(author, msg, requestId);
    } catch (err) {
      await this.idempotency.release(author.deviceId, requestId).catch(() => undefined);
      throw err;
    }
    // The message is durable whatever happens here; a lost record only weakens de-duplication.
    await this.idempotency
      .complete(author.deviceId, requestId, ack)
      .catch((err: Error) =>
        this.logger.warn(`idempotency record for ${author.deviceId}/${requestId} not kept: ${err.message}`),
      );
    return { ack, duplicate: false };
  }

  /**
   * Room-manager relay: the frame goes to the other members exactly as sent and is stored
   * as a message of `kind` with the parsed frame as content.
   */
  async relay(
    author: Author,
    roomId: string,
    frameText: string,
    frame: unknown,
    kind: MessageKind,
  ): Promise<void> {
    await this.accept(author, { roomId, kind, content: frame }, undefined, frameText);
  }

  /** Stored messages of a room by seq, newest first (beforeSeq) or oldest first (afterSeq). */
  async history(roomId: string, query: HistoryQuery): Promise<HistoryPage> {
    const ascending = query.afterSeq !== undefined;
    const qb = this.messages
      .createQueryBuilder('m')
      .where('m.room_id = :roomId', { roomId })
      .orderBy('m.seq', ascending ? 'ASC' : 'DESC')
      .take(query.limit + 1);
    if (ascending) qb.andWhere('m.seq > :after', { after: query.afterSeq });
    else if (query.beforeSeq !== undefined) qb.andWhere('m.seq < :before', { before: query.beforeSeq });
    const rows = await qb.getMany();
    const page = rows.slice(0, query.limit);
    return {
      messages: page.map(toPayload),
      nextCursor: rows.length > query.limit ? Number(page[page.length - 1].seq) : null,
    };
  }

  lastSeq(roomId: string): Promise<number> {
    return this.seqs.current(roomId);
  }

  private accept(
    author: Author,
    msg: RoomMessage,
    requestId?: string,
    relayFrame?: string,
  ): Promise<MessageSendAck> {
    return this.inRoomOrder(msg.roomId, async () => {
      const seq = await this.seqs.next(msg.roomId);
      const message: MessagePayload = {
        message_id: uuidv7(),
        room_id: msg.roomId,
        from: { device_id: author.deviceId, identity: author.identity },
        seq,
        ts: Date.now(),
        kind: msg.kind,
        content: msg.content,
        ...(msg.mentions?.length ? { mentions: msg.mentions } : {}),
      };
      try {
        await this.jobs.enqueue(
          JobName.PersistMessage,
          {
            messageId: message.message_id,
            roomId: msg.roomId,
            toDeviceId: null,
            fromDeviceId: author.deviceId,
            fromIdentity: author.identity,
            kind: msg.kind,
            content: JSON.stringify(msg.content),
            mentions: msg.mentions?.length ? msg.mentions : null,
            seq,
            clientMsgId: requestId ?? null,
            sentAt: message.ts,
            conversation: null,
          },
          message.message_id,
        );
      } catch (err) {
        // Nobody else allocates in this room until we return, so the number can be handed back.
        await this.seqs.release(msg.roomId, seq).catch(() => undefined);
        throw err instanceof RoomcastError
          ? err
          : RoomcastError.unavailable(`message not stored: ${(err as Error).message}`);
      }
      const event: MessageCreatedEvent = { message, sessionId: author.sessionId, requestId, relayFrame };
      // Published inside the room's chain, so listeners see one room's messages in seq order.
      this.events.emit(Lifecycle.MessageCreated, event);
      return { message_id: message.message_id, seq, ts: message.ts };
    });
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

export function toPayload(row: MessageEntity): MessagePayload {
  return {
    message_id: row.messageId,
    ...(row.roomId ? { room_id: row.roomId } : {}),
    ...(row.toDeviceId ? { to_device_id: row.toDeviceId } : {}),
    from: { device_id: row.fromDeviceId, identity: row.fromIdentity },
    ...(row.seq !== null ? { seq: Number(row.seq) } : {}),
    ts: row.sentAt.getTime(),
    kind: row.kind as MessageKind,
    content: JSON.parse(row.content) as unknown,
    ...(row.mentions ? { mentions: JSON.parse(row.mentions) as string[] } : {}),
  };
}

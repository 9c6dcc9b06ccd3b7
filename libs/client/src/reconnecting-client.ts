// Only type imports from the protocol library, as in roomcast-client.ts: no runtime dependency.
import type {
  ConnectionEvent,
  ErrorBody,
  HelloData,
  MessagePayload,
  RequestMap,
  RequestType,
  ResumedEvent,
  RoomEvent,
  RoomJoinAck,
} from '#protocol';
import { backoffDelay, defaultShouldReconnect } from './backoff.js';
import { RoomcastConnectError, RoomcastRequestError, RoomcastWaitError } from './errors.js';
import { InboundOrder, type GapInfo } from './inbound-order.js';
import { EventReceiver } from './event-receiver.js';
import type { ReceivedEvent } from './mailbox.js';
import {
  RoomcastClient,
  type ClientEventMap,
  type ClientEventType,
  type CloseInfo,
  type Handshake,
  type RequestOptions,
  type RoomcastClientOptions,
} from './roomcast-client.js';

/** The states of a ReconnectingClient. */
export type ReconnectState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The client's own events, beside the server's (`ClientEventMap`). */
export interface LifecycleEventMap {
  /**
   * A socket is being opened; `attempt` is 0 for the first connection, else the retry number.
   * `url` is the one this attempt uses (the next in turn when the client was given several).
   */
  connecting: { attempt: number; url: string };
  /** A handshake completed and the queued requests were written; `reconnected` after the first. */
  open: { handshake: Handshake; reconnected: boolean };
  /** An open session's socket was lost. */
  disconnected: { code: number; reason: string };
  /** The next attempt (1-based, since the last open session) starts after `delayMs`. */
  reconnecting: { attempt: number; delayMs: number; code: number; reason: string };
  /** Final: `close()` was called, the close code forbids reconnecting, or the attempts ran out. */
  closed: { code: number; reason: string; error?: Error };
  /** Room messages that will not be delivered (not replayed, or beyond what could be fetched). */
  gap: GapInfo;
  /** A room joined before the drop could not be joined again (it stays left). */
  rejoin_failed: { room_id: string; error: RoomcastRequestError };
  /** A frame sent with `send()` failed (an `error` answer, a timeout, or the client closed). */
  send_failed: { id: string; type: string; error: RoomcastRequestError };
}
export type LifecycleEventType = keyof LifecycleEventMap;

export interface ReconnectingEventMap extends ClientEventMap, LifecycleEventMap {}
export type ReconnectingEventType = keyof ReconnectingEventMap;

export type ReconnectingEventHandler<K extends ReconnectingEventType> = (
  data: ReconnectingEventMap[K],
  event: ReceivedEvent<K, ReconnectingEventMap[K]>,
) => void;

/**
 * A token, or a function asked for one before every handshake (to supply a fresh one) and when
 * the server warns that the session's token is expiring (`refresh: true`; the new token is sent
 * with `auth.refresh`, keeping the session).
 */
export type TokenProvider =
  | string
  | ((info: {
      attempt: number;
      closeCode?: number;
      refresh?: boolean;
    }) => string | undefined | Promise<string | undefined>);

/** What the client says in every `hello`; `resume` is computed, `token` comes from the options. */
export type ReconnectingHello = Omit<HelloData, 'resume' | 'token'>;

export interface ReconnectingClientOptions extends Omit<
  RoomcastClientOptions,
  'bufferSize' | 'requestTimeoutMs' | 'waitTimeoutMs'
> {
  /** Sent as `hello.token` on every handshake; a function is called each time, and on `token_expiring`. */
  token?: TokenProvider;
  /** Cap of the first reconnect delay (full jitter: the delay is uniform in [0, cap)). Default 500. */
  initialDelayMs?: number;
  /** Cap of every delay. Default 30000. */
  maxDelayMs?: number;
  /** Consecutive failed attempts after which the client gives up (`closed`). Default Infinity. */
  maxAttempts?: number;
  /** Whether to reconnect after a close with this code. Default: `defaultShouldReconnect`. */
  shouldReconnect?: (closeCode: number, reason: string) => boolean;
  /** Math.random, injectable for tests. */
  random?: () => number;
  /** Time from `request()` to its answer, across reconnects and queueing. Default 30000; Infinity: none. */
  requestTimeoutMs?: number;
  /** Default timeout of `waitFor()`/`collect()`. Default 5000. */
  waitTimeoutMs?: number;
  /** Unconsumed server events kept for `waitFor`. Default 1000. */
  bufferSize?: number;
  /** Requests waiting while no session is open (unanswered ones included); beyond: QUEUE_FULL. Default 1000. */
  maxQueue?: number;
  /** Resends (same id) of a request answered UNAVAILABLE. Default 3. */
  retryUnavailable?: number;
  /** Resends (same id) of a `message.send` answered CONFLICT ("still being processed"). Default 5. */
  retryConflict?: number;
  /** Backoff cap of the first such resend (full jitter, doubling, up to maxDelayMs). Default 200. */
  retryDelayMs?: number;
  /** Direct messages and mentions are de-duplicated by message_id over this many ids. Default 1000. */
  dedupeWindow?: number;
  /**
   * After re-joining a room, missed messages up to this many are fetched with `history`; more,
   * or a failed fetch, are reported as a `gap`. 0 disables fetching. Default 500.
   */
  gapFillLimit?: number;
  /**
   * When > 0, a session that received nothing for this long gets an application `ping`, and is
   * dropped (and reconnected) if nothing arrives within another interval. Detects dead links that
   * TCP does not report. Default 0 (off).
   */
  pingIntervalMs?: number;
  /** Refuse (PAYLOAD_TOO_LARGE, at once) request frames longer than this many bytes. Default: no check. */
  maxFrameBytes?: number;
}

/** A frame waiting for a socket or for its answer. */
interface Outgoing {
  id?: string;
  type: string;
  payload: string | ArrayBuffer | ArrayBufferView;
  /** Waits for an answer, resent after a drop. Untracked frames are written once. */
  tracked: boolean;
  /** Rejoins and gap fills: written at once, forgotten (rejected CLOSED) when the socket drops. */
  internal?: boolean;
  answer: 'ack' | 'room_info';
  written: boolean;
  /** Written on some socket before: writing it again counts as a resend. */
  sentBefore?: boolean;
  unavailableRetries: number;
  conflictRetries: number;
  resend?: ReturnType<typeof setTimeout>;
  timer?: ReturnType<typeof setTimeout>;
  resolve(data: unknown): void;
  reject(err: RoomcastRequestError): void;
}

interface HistoryAck {
  messages: MessagePayload[];
  next_cursor: unknown;
}

/** Request types the server never answers: written once, not tracked. */
const UNANSWERED_TYPES = new Set(['typing']);

/** Server events forwarded from each socket's RoomcastClient. */
const SERVER_EVENTS: ClientEventType[] = [
  'connection',
  'room',
  'room_info',
  'message',
  'presence.join',
  'presence.leave',
  'resumed',
  'offline_done',
  'system',
  'pong',
  'error',
  'relay',
  'typing',
  'receipt',
  'message.recalled',
  'mention',
  'ack',
  'binary',
];

/** A local close code for a session given up by the client (liveness timeout, `reconnect()`). */
const LOCAL_DROP = 4000;

function randomTag(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID().replace(/-/g, '').slice(0, 16);
  return Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 10);
}

const byteLength = (s: string) => new TextEncoder().encode(s).length;

/**
 * One logical Roomcast session over as many sockets as it takes (docs/protocol.md, "Handshake",
 * "Delivery guarantees"). Each socket is a RoomcastClient; this class keeps what outlives them:
 *
 * - reconnects with exponential backoff and full jitter, unless the close code says not to;
 * - given several URLs (the nodes of a cluster), moves to the next one, round robin, after a
 *   failed attempt or a lost session;
 * - every `hello` carries the same device and identity, a fresh token (provider), the primary
 *   room and `resume` (room → last seq delivered) for the rooms it is in; rooms joined with
 *   `room.join` are joined again after the handshake;
 * - requests get an id once; one unanswered when the socket drops is sent again with the same id
 *   after the reconnect (the server de-duplicates sends by id), in call order, before newer ones;
 *   requests made while disconnected wait in a bounded queue;
 * - `message` events reach handlers exactly once and in seq order per room, replays included.
 *
 * Handlers (`on`) and waits (`waitFor`) are registered on this object and survive reconnects.
 */
export class ReconnectingClient extends EventReceiver<ReconnectingEventMap> {
  /** Resolves when the client has closed for good; never rejects. */
  readonly closed: Promise<CloseInfo>;
  private readonly counters = { connects: 0, resent: 0, gaps: 0 };

  private stateValue: ReconnectState = 'idle';
  private current?: RoomcastClient;
  private connecting?: RoomcastClient;
  private lastHandshake?: Handshake;
  private primary?: string;
  /** The primary room was left and no other room joined since: a new hello must not name one. */
  private noPrimary = false;
  /** Rooms joined with room.join (not the primary room). */
  private readonly joined = new Set<string>();
  private readonly outbox: Outgoing[] = [];
  /** Written on the current socket and not answered yet, by id. */
  private readonly inflight = new Map<string, Outgoing[]>();
  private readonly order: InboundOrder<ReceivedEvent<'message', MessagePayload>>;
  private readonly idPrefix = `r${randomTag()}-`;
  private idCounter = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  /** Gap fetches asked for before the session was open, started once the rooms are joined again. */
  private pendingFills: Array<{ gap: GapInfo; hold: string }> = [];
  private fillCounter = 0;
  private pingTimer?: ReturnType<typeof setInterval>;
  private lastInbound = 0;
  private pingSent = false;
  private lastClose?: CloseInfo;
  private startPromise?: Promise<Handshake>;
  private settleStart?: { resolve(h: Handshake): void; reject(err: Error): void };
  private resolveClosed!: (info: CloseInfo) => void;
  /** Every URL the client may use, in the order given. */
  readonly urls: readonly string[];
  /** Index in `urls` of the next (or current) attempt. */
  private urlIndex = 0;

  /**
   * `url`: one server URL (a load balancer, usually), or several (the nodes of a cluster): then
   * each attempt after a failed one, and the first after a lost session, uses the next URL in
   * round-robin order, so a client whose node died goes on with another.
   */
  constructor(
    url: string | readonly string[],
    readonly hello: ReconnectingHello,
    private readonly options: ReconnectingClientOptions = {},
  ) {
    super('ReconnectingClient', options);
    const urls = typeof url === 'string' ? [url] : [...url];
    if (urls.length === 0) throw new TypeError('ReconnectingClient: at least one URL is required');
    for (const u of urls) {
      if (typeof u !== 'string' || u === '')
        throw new TypeError(`ReconnectingClient: invalid URL ${String(u)}`);
    }
    this.urls = Object.freeze(urls);
    this.primary = hello.room_id;
    this.order = new InboundOrder(
      (event) => this.deliver(event),
      (gap) => {
        this.counters.gaps++;
        this.emitLifecycle('gap', gap);
      },
      options.dedupeWindow ?? 1000,
      (gap) => this.requestFill(gap),
    );
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Creates the client and resolves once its first handshake completed (see `start`). */
  static async connect(
    url: string | readonly string[],
    hello: ReconnectingHello,
    options: ReconnectingClientOptions = {},
  ): Promise<ReconnectingClient> {
    const client = new ReconnectingClient(url, hello, options);
    await client.start();
    return client;
  }

  /**
   * Starts connecting (once; later calls return the same promise). Resolves with the first
   * handshake; failed attempts are retried like reconnects. Rejects when the client closes first
   * (a close code that forbids reconnecting, such as 4401, the attempts running out, `close()`).
   */
  start(): Promise<Handshake> {
    if (!this.startPromise) {
      this.startPromise = new Promise<Handshake>(
        (resolve, reject) => (this.settleStart = { resolve, reject }),
      );
      if (this.stateValue === 'closed') {
        this.settleStart!.reject(new RoomcastConnectError('client is closed'));
      } else {
        void this.attempt(0);
      }
    }
    return this.startPromise;
  }

  /** The URL of the current session, or of the next attempt while there is none. */
  get url(): string {
    return this.urls[this.urlIndex];
  }

  /** Counters for diagnostics and tests. */
  get stats(): { connects: number; resent: number; duplicatesDropped: number; gaps: number } {
    return {
      /** Completed handshakes. */
      connects: this.counters.connects,
      /** Requests written again with the same id (after a reconnect, UNAVAILABLE or CONFLICT). */
      resent: this.counters.resent,
      /** `message`/`mention` events dropped as already delivered. */
      duplicatesDropped: this.order.duplicates,
      /** `gap` events. */
      gaps: this.counters.gaps,
    };
  }

  get state(): ReconnectState {
    return this.stateValue;
  }

  get isOpen(): boolean {
    return this.stateValue === 'open';
  }

  /** The RoomcastClient of the current session (undefined while disconnected). */
  get client(): RoomcastClient | undefined {
    return this.current;
  }

  /** The `connection` event of the last handshake. */
  get session(): ConnectionEvent | undefined {
    return this.lastHandshake?.connection;
  }

  /** The `room` event of the last handshake. */
  get room(): RoomEvent | undefined {
    return this.lastHandshake?.room;
  }

  /** The primary room the next handshake asks for. */
  get primaryRoomId(): string | undefined {
    return this.primary;
  }

  /** Rooms the session is in: the primary room and those joined with room.join. */
  get rooms(): string[] {
    return [...new Set([...(this.primary ? [this.primary] : []), ...this.joined])];
  }

  /** The highest seq of the room delivered to the application (what `resume` will carry). */
  lastSeq(roomId: string): number | undefined {
    return this.order.delivered(roomId);
  }

  /** `resume` of the next hello: room → last seq delivered, for the rooms the session is in. */
  resumeMap(): Record<string, number> {
    const resume: Record<string, number> = {};
    for (const roomId of this.rooms) {
      const seq = this.order.delivered(roomId);
      if (seq !== undefined) resume[roomId] = seq;
    }
    return resume;
  }

  /** Resolves when a session is open (at once if it is); rejects on timeout or final close. */
  whenOpen(timeoutMs = this.options.waitTimeoutMs ?? 5000): Promise<void> {
    if (this.stateValue === 'open') return Promise.resolve();
    if (this.stateValue === 'closed')
      return Promise.reject(new RoomcastWaitError('client is closed', 'closed'));
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        offOpen();
        offClosed();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () => done(new RoomcastWaitError(`not open within ${timeoutMs} ms (${this.stateValue})`, 'timeout')),
        timeoutMs,
      );
      const offOpen = this.on('open', () => done());
      const offClosed = this.on('closed', (c) =>
        done(new RoomcastWaitError(`client closed (${c.code})`, 'closed')),
      );
    });
  }

  // ---- sending ---------------------------------------------------------------------------------

  /**
   * Sends a request and resolves with its ack data (`query_room`: the `room_info` data). The id
   * (`opts.id` or a generated one) is kept across resends. Waits in the queue while disconnected.
   * Rejects with RoomcastRequestError: the server's code (after the UNAVAILABLE/CONFLICT retries),
   * `TIMEOUT` (`requestTimeoutMs` from the call), `QUEUE_FULL`, `PAYLOAD_TOO_LARGE`, or `CLOSED`.
   */
  request<T extends RequestType>(
    type: T,
    data: RequestMap[T]['data'],
    opts: RequestOptions = {},
  ): Promise<RequestMap[T]['ack']> {
    return this.rawRequest<RequestMap[T]['ack']>(type, data, opts);
  }

  /** `request()` for a type the protocol library does not type (yet). */
  rawRequest<A = unknown>(type: string, data?: unknown, opts: RequestOptions = {}): Promise<A> {
    const id = opts.id ?? this.nextId();
    return new Promise<A>((resolve, reject) => {
      const entry = this.enqueue(
        {
          id,
          type,
          tracked: true,
          answer: type === 'query_room' ? 'room_info' : 'ack',
          resolve: (v) => resolve(v as A),
          reject,
        },
        JSON.stringify(data === undefined ? { type, id } : { type, id, data }),
      );
      if (!entry) return;
      const timeoutMs = opts.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
      if (Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(
          () =>
            this.finish(
              entry,
              new RoomcastRequestError(
                'TIMEOUT',
                `${type} (id ${id}): no answer within ${timeoutMs} ms`,
                id,
                type,
              ),
            ),
          timeoutMs,
        );
      }
      this.writeIfOpen(entry);
    });
  }

  /**
   * Fire-and-forget with the same guarantees: the frame gets an id (returned), waits while
   * disconnected and is resent after a drop until answered; the answer is an `ack` event (with
   * the id), a failure a `send_failed` event. `typing`, which the server never answers, is
   * written once.
   */
  send(type: string, data?: unknown, opts: { id?: string } = {}): string {
    const id = opts.id ?? this.nextId();
    if (UNANSWERED_TYPES.has(type)) {
      this.enqueueRaw(JSON.stringify(data === undefined ? { type, id } : { type, id, data }), type, id);
      return id;
    }
    this.rawRequest(type, data, { id }).then(
      (ack) => this.deliver({ type: 'ack', id, data: ack, at: Date.now() }),
      (error: RoomcastRequestError) => this.emitLifecycle('send_failed', { id, type, error }),
    );
    return id;
  }

  /** A frame sent as it is (a string verbatim), once, when a session is open: room-manager relays. */
  sendRaw(frame: object | string): void {
    this.enqueueRaw(typeof frame === 'string' ? frame : JSON.stringify(frame), 'raw');
  }

  /** A binary frame (relayed to the primary room), once, when a session is open. */
  sendBinary(data: ArrayBuffer | ArrayBufferView): void {
    this.enqueueRaw(data, 'binary');
  }

  /** Application ping: resolves with the next `pong` data. */
  async ping(timeoutMs?: number): Promise<{ ts: number }> {
    this.sendRaw({ type: 'ping' });
    return this.waitFor('pong', undefined, timeoutMs);
  }

  /** Drops the current socket and connects again (after a network change, for instance). */
  reconnect(): void {
    if (this.current) this.abandon(this.current, { code: LOCAL_DROP, reason: 'reconnect requested' });
  }

  /**
   * Closes for good: stops reconnecting, closes the socket (with `code`), rejects what is still
   * waiting with CLOSED, and resolves when done.
   */
  async close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.stateValue !== 'closed') {
      const socket = this.current ?? this.connecting;
      this.shutdown({ code, reason });
      if (socket) await socket.close(code, reason);
    }
    return this.closed;
  }

  /** A request id: unique across clients and runs, within the 64-character limit. */
  nextId(prefix = ''): string {
    return `${prefix}${this.idPrefix}${(++this.idCounter).toString(36)}`;
  }

  // ---- connecting ------------------------------------------------------------------------------

  private async attempt(attempt: number): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.reconnectTimer = undefined;
    this.setState('connecting');
    const url = this.url;
    this.emitLifecycle('connecting', { attempt, url });
    let client: RoomcastClient | undefined;
    try {
      client = await RoomcastClient.open(url, this.socketOptions());
      this.connecting = client;
      if (this.isClosed()) return void client.close(1000, 'client closed');
      const token =
        typeof this.options.token === 'function'
          ? await this.options.token({ attempt, closeCode: this.lastClose?.code })
          : this.options.token;
      if (this.isClosed()) return void client.close(1000, 'client closed');
      this.subscribe(client);
      const resume = this.resumeMap();
      for (const roomId of Object.keys(resume)) this.order.hold(roomId, 'resume');
      const room = this.noPrimary ? undefined : this.primary;
      const handshake = await client.hello({
        device_id: this.hello.device_id,
        identity: this.hello.identity,
        ...(room ? { room_id: room } : {}),
        ...(token ? { token } : {}),
        ...(Object.keys(resume).length ? { resume } : {}),
      });
      if (this.isClosed()) return void client.close(1000, 'client closed');
      this.connecting = undefined;
      this.onHandshake(client, handshake);
    } catch (err) {
      this.connecting = undefined;
      if (this.isClosed()) return;
      this.order.clearHolds();
      this.pendingFills = [];
      if (client?.isOpen) void client.close(1000, 'handshake failed');
      const info = closeInfoOf(err);
      this.lastClose = info;
      if (!this.shouldReconnect(info)) return this.shutdown(info, err as Error);
      this.nextUrl();
      this.scheduleReconnect(attempt + 1, info, err as Error);
    }
  }

  private onHandshake(client: RoomcastClient, handshake: Handshake): void {
    const reconnected = this.counters.connects > 0;
    this.counters.connects++;
    this.current = client;
    this.lastHandshake = handshake;
    void client.closed.then((info) => this.onSocketClosed(client, info));

    const serverRoom = handshake.room.room_id;
    // Forward compatible: a `room` event that tells the room's last seq gives a resume baseline.
    const roomLastSeq = (handshake.room as RoomEvent & { last_seq?: unknown }).last_seq;
    if (typeof roomLastSeq === 'number') this.order.baseline(serverRoom, roomLastSeq);
    this.order.releaseAll();

    if (this.noPrimary) {
      // The server put the session back in a room it had left: leave it again.
      if (!this.joined.has(serverRoom)) {
        this.internalRequest('room.leave', { room_id: serverRoom }).catch(() => undefined);
      }
    } else {
      if (this.primary && this.primary !== serverRoom) this.order.forget(this.primary);
      this.primary = serverRoom;
      this.joined.delete(serverRoom);
    }
    for (const roomId of this.joined) this.rejoin(roomId);
    this.setState('open'); // fetches (and what follows) are written from here on
    for (const { gap, hold } of this.pendingFills.splice(0)) this.startFill(gap, hold);

    // What waited (unanswered on the lost socket, then queued while down), in call order.
    for (const entry of [...this.outbox]) {
      if (!entry.written && entry.resend === undefined) this.write(entry);
    }
    this.startLiveness(client);
    this.emitLifecycle('open', { handshake, reconnected });
    this.settleStart?.resolve(handshake);
    this.settleStart = undefined;
  }

  private scheduleReconnect(attempt: number, info: CloseInfo, error?: Error): void {
    if (attempt > (this.options.maxAttempts ?? Infinity)) {
      return this.shutdown(
        { code: info.code, reason: `gave up after ${attempt - 1} attempts: ${info.reason}` },
        error,
      );
    }
    const delayMs = backoffDelay(
      attempt,
      { initialDelayMs: this.options.initialDelayMs ?? 500, maxDelayMs: this.options.maxDelayMs ?? 30_000 },
      this.options.random,
    );
    this.setState('reconnecting');
    this.emitLifecycle('reconnecting', { attempt, delayMs, code: info.code, reason: info.reason });
    if (this.isClosed()) return;
    this.reconnectTimer = setTimeout(() => void this.attempt(attempt), delayMs);
  }

  private onSocketClosed(client: RoomcastClient, info: CloseInfo): void {
    if (client !== this.current || this.isClosed()) return;
    this.lost(info, false);
  }

  /** Gives up a socket that may not report its close soon (half-open link, `reconnect()`). */
  private abandon(client: RoomcastClient, info: CloseInfo): void {
    if (client !== this.current || this.isClosed()) return;
    void client.close(LOCAL_DROP, info.reason);
    this.lost(info, true);
  }

  /** The open session's socket is gone: requeue what was in flight, then reconnect or stop. */
  private lost(info: CloseInfo, force: boolean): void {
    this.current = undefined;
    this.lastClose = info;
    this.stopLiveness();
    const written = this.outbox.filter((e) => e.written);
    if (info.code === 1009 && written.length) {
      // The server refused a frame as too large; resending it would only close the next socket.
      const biggest = written.reduce((a, b) => (size(b.payload) > size(a.payload) ? b : a));
      this.finish(
        biggest,
        new RoomcastRequestError(
          'PAYLOAD_TOO_LARGE',
          `${biggest.type} (id ${biggest.id}): the server closed with 1009 (frame too large)`,
          biggest.id ?? '',
          biggest.type,
        ),
      );
    }
    for (const [, entries] of this.inflight) {
      for (const entry of entries) {
        if (entry.internal) {
          this.finish(entry, new RoomcastRequestError('CLOSED', 'socket lost', entry.id ?? '', entry.type));
        }
      }
    }
    this.inflight.clear();
    for (const entry of this.outbox) {
      entry.written = false;
      clearTimeout(entry.resend);
      entry.resend = undefined;
    }
    this.order.clearHolds();
    this.pendingFills = [];
    this.emitLifecycle('disconnected', { code: info.code, reason: info.reason });
    if (!force && !this.shouldReconnect(info)) return this.shutdown(info);
    this.nextUrl();
    this.scheduleReconnect(1, info);
  }

  /** Round robin over `urls`: the next attempt goes to the next one (a no-op with one URL). */
  private nextUrl(): void {
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
  }

  private shouldReconnect(info: CloseInfo): boolean {
    return (this.options.shouldReconnect ?? defaultShouldReconnect)(info.code, info.reason);
  }

  /** Final close: reject what waits, tell the handlers, resolve `closed`. */
  private shutdown(info: CloseInfo, error?: Error): void {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    this.stopLiveness();
    const client = this.current;
    this.current = undefined;
    if (client?.isOpen) void client.close(info.code >= 3000 || info.code === 1000 ? info.code : 1000, '');
    const why = `client closed (${info.code}${info.reason ? ` ${info.reason}` : ''})`;
    for (const entry of new Set([...this.outbox, ...[...this.inflight.values()].flat()])) {
      this.finish(
        entry,
        new RoomcastRequestError('CLOSED', `${entry.type}: ${why}`, entry.id ?? '', entry.type),
      );
    }
    this.inflight.clear();
    this.mailbox.close(why);
    this.emitLifecycle('closed', { ...info, ...(error ? { error } : {}) });
    this.settleStart?.reject(
      error ?? new RoomcastConnectError(`${why} before a session opened`, { closeCode: info.code }),
    );
    this.settleStart = undefined;
    this.resolveClosed(info);
  }

  private isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  private setState(state: ReconnectState): void {
    this.stateValue = state;
  }

  private socketOptions(): RoomcastClientOptions {
    const o = this.options;
    return {
      WebSocket: o.WebSocket,
      headers: o.headers,
      protocols: o.protocols,
      connectTimeoutMs: o.connectTimeoutMs,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      onInvalidFrame: o.onInvalidFrame,
      onHandlerError: o.onHandlerError,
      bufferSize: 0, // events are kept here, across sockets
    };
  }

  // ---- liveness --------------------------------------------------------------------------------

  private startLiveness(client: RoomcastClient): void {
    const interval = this.options.pingIntervalMs ?? 0;
    if (interval <= 0) return;
    this.lastInbound = Date.now();
    this.pingSent = false;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastInbound < interval) return;
      if (this.pingSent) return this.abandon(client, { code: LOCAL_DROP, reason: 'no answer to ping' });
      this.pingSent = true;
      try {
        client.send({ type: 'ping' });
      } catch {
        // closing: the close handler takes over
      }
    }, interval);
  }

  private stopLiveness(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  // ---- outgoing --------------------------------------------------------------------------------

  private enqueue(
    init: Pick<Outgoing, 'id' | 'type' | 'tracked' | 'answer' | 'resolve' | 'reject'>,
    payload: string | ArrayBuffer | ArrayBufferView,
  ): Outgoing | undefined {
    const fail = (code: ConstructorParameters<typeof RoomcastRequestError>[0], message: string) => {
      init.reject(new RoomcastRequestError(code, `${init.type}: ${message}`, init.id ?? '', init.type));
      return undefined;
    };
    if (this.isClosed()) return fail('CLOSED', 'client is closed');
    const max = this.options.maxFrameBytes;
    if (max !== undefined && size(payload) > max) {
      return fail('PAYLOAD_TOO_LARGE', `frame of ${size(payload)} bytes exceeds maxFrameBytes ${max}`);
    }
    const limit = this.options.maxQueue ?? 1000;
    if (!this.isOpen && this.outbox.length >= limit) {
      return fail('QUEUE_FULL', `${this.outbox.length} requests already wait for a connection (maxQueue)`);
    }
    const entry: Outgoing = { ...init, payload, written: false, unavailableRetries: 0, conflictRetries: 0 };
    this.outbox.push(entry);
    return entry;
  }

  private enqueueRaw(payload: string | ArrayBuffer | ArrayBufferView, type: string, id?: string): void {
    const entry = this.enqueue(
      {
        id,
        type,
        tracked: false,
        answer: 'ack',
        resolve: () => undefined,
        reject: (err) => {
          throw err;
        },
      },
      payload,
    );
    if (entry) this.writeIfOpen(entry);
  }

  private writeIfOpen(entry: Outgoing): void {
    if (this.isOpen) this.write(entry);
  }

  /** Writes a frame on the current socket; a tracked one then waits for its answer. */
  private write(entry: Outgoing): void {
    const client = this.current;
    if (!client) return;
    try {
      if (typeof entry.payload === 'string') client.send(entry.payload);
      else client.sendBinary(entry.payload);
    } catch {
      return; // the socket is closing: the entry stays queued for the next one
    }
    if (!entry.tracked) {
      this.removeFromOutbox(entry);
      return;
    }
    if (entry.sentBefore) this.counters.resent++;
    entry.sentBefore = true;
    entry.written = true;
    const id = entry.id!;
    const list = this.inflight.get(id) ?? [];
    list.push(entry);
    this.inflight.set(id, list);
    // Hold the room's messages until the ack says where delivery starts (see catchUp).
    if (entry.type === 'room.join' && !entry.internal) this.order.hold(joinRoomOf(entry), `join:${id}`);
  }

  /** Settles an entry (data: resolve, error: reject) and forgets it. */
  private finish(entry: Outgoing, result: { data: unknown } | RoomcastRequestError): void {
    clearTimeout(entry.timer);
    clearTimeout(entry.resend);
    this.removeFromOutbox(entry);
    this.removeInflight(entry);
    if (entry.type === 'room.join' && entry.id) {
      const roomId = joinRoomOf(entry);
      if (result instanceof RoomcastRequestError) this.order.release(roomId, `join:${entry.id}`);
    }
    if (result instanceof RoomcastRequestError) {
      try {
        entry.reject(result);
      } catch {
        // untracked frames have nobody to tell
      }
    } else {
      entry.resolve(result.data);
    }
  }

  private removeFromOutbox(entry: Outgoing): void {
    const i = this.outbox.indexOf(entry);
    if (i >= 0) this.outbox.splice(i, 1);
  }

  private removeInflight(entry: Outgoing): void {
    if (!entry.id) return;
    const list = this.inflight.get(entry.id);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.inflight.delete(entry.id);
  }

  /** A request of the client itself, written now, before the queue; not resent after a drop. */
  private internalRequest<A>(type: string, data: unknown): Promise<A> {
    const id = this.nextId('i');
    return new Promise<A>((resolve, reject) => {
      const entry: Outgoing = {
        id,
        type,
        payload: JSON.stringify({ type, id, data }),
        tracked: true,
        internal: true,
        answer: 'ack',
        written: false,
        unavailableRetries: 0,
        conflictRetries: 0,
        resolve: (v) => resolve(v as A),
        reject,
      };
      const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
      if (Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(
          () => this.finish(entry, new RoomcastRequestError('TIMEOUT', `${type}: no answer`, id, type)),
          timeoutMs,
        );
      }
      this.write(entry);
      if (!entry.written) {
        this.finish(entry, new RoomcastRequestError('CLOSED', `${type}: no socket`, id, type));
      }
    });
  }

  // ---- answers and events ----------------------------------------------------------------------

  private subscribe(client: RoomcastClient): void {
    for (const type of SERVER_EVENTS) {
      client.on(type, (data, event) => {
        if (client !== this.current && client !== this.connecting) return;
        this.lastInbound = Date.now();
        this.pingSent = false;
        this.onServerEvent(event as ReceivedEvent);
      });
    }
  }

  private onServerEvent(event: ReceivedEvent): void {
    const { type, id } = event;
    if (id !== undefined && (type === 'ack' || type === 'room_info' || type === 'error')) {
      const list = this.inflight.get(id);
      const entry =
        type === 'error' ? list?.[0] : list?.find((e) => e.answer === (type === 'ack' ? 'ack' : 'room_info'));
      if (entry)
        return type === 'error'
          ? this.onError(entry, event.data as ErrorBody)
          : this.onAnswer(entry, event.data);
    }
    switch (type) {
      case 'message':
        return this.order.accept(event as ReceivedEvent<'message', MessagePayload>);
      case 'mention': {
        const m = event.data as MessagePayload;
        if (typeof m.message_id === 'string' && !this.order.firstTime(`mention:${m.message_id}`)) {
          this.order.duplicates++;
          return;
        }
        return this.deliver(event);
      }
      case 'resumed':
        this.order.release((event.data as ResumedEvent).room_id, 'resume');
        return this.deliver(event);
      case 'system': {
        const s = event.data as { kind?: unknown; payload?: { room_id?: unknown } };
        if (s.kind === 'room_closed' && typeof s.payload?.room_id === 'string')
          this.leftRoom(s.payload.room_id);
        if (s.kind === 'token_expiring') void this.refreshToken();
        return this.deliver(event);
      }
      default:
        return this.deliver(event);
    }
  }

  /**
   * The session's token expires soon: a token provider is asked for a new one, sent with
   * `auth.refresh`. Failing that the server closes with 4401 at expiry, as without a provider.
   */
  private async refreshToken(): Promise<void> {
    const provider = this.options.token;
    if (typeof provider !== 'function') return;
    try {
      const token = await provider({ attempt: 0, refresh: true });
      if (token) await this.internalRequest('auth.refresh', { token });
    } catch (err) {
      (this.options.onHandlerError ?? console.error)(err, 'auth.refresh');
    }
  }

  private onAnswer(entry: Outgoing, data: unknown): void {
    if (entry.type === 'room.join' && !entry.internal) {
      this.joinedRoom(joinRoomOf(entry), data as RoomJoinAck, `join:${entry.id}`);
    } else if (entry.type === 'room.leave' && !entry.internal) {
      this.leftRoom(joinRoomOf(entry));
    }
    this.finish(entry, { data });
  }

  private onError(entry: Outgoing, body: ErrorBody): void {
    const retry =
      body.code === 'UNAVAILABLE' && entry.unavailableRetries < (this.options.retryUnavailable ?? 3)
        ? ++entry.unavailableRetries
        : body.code === 'CONFLICT' &&
            entry.type === 'message.send' &&
            entry.conflictRetries < (this.options.retryConflict ?? 5)
          ? ++entry.conflictRetries
          : 0;
    if (!retry || entry.internal) {
      return this.finish(entry, RoomcastRequestError.fromBody(body, entry.id ?? '', entry.type));
    }
    // Same id again after a backoff: the server either stores it now or returns the first ack.
    this.removeInflight(entry);
    entry.written = false;
    if (entry.type === 'room.join') this.order.release(joinRoomOf(entry), `join:${entry.id}`);
    const delay =
      body.retry_after_ms ??
      backoffDelay(
        retry,
        { initialDelayMs: this.options.retryDelayMs ?? 200, maxDelayMs: this.options.maxDelayMs ?? 30_000 },
        this.options.random,
      );
    entry.resend = setTimeout(() => {
      entry.resend = undefined;
      this.writeIfOpen(entry);
    }, delay);
  }

  /** A room.join was acked: the room is in the session, delivery starts (or goes on) from its seq. */
  private joinedRoom(roomId: string, ack: RoomJoinAck, hold: string): void {
    if (this.noPrimary || !this.primary) {
      this.primary = roomId;
      this.noPrimary = false;
    } else if (roomId !== this.primary) {
      this.joined.add(roomId);
    }
    this.catchUp(roomId, ack, hold);
  }

  private leftRoom(roomId: string): void {
    if (roomId === this.primary) {
      this.primary = undefined;
      this.noPrimary = true;
    }
    this.joined.delete(roomId);
    this.order.forget(roomId);
  }

  /** After a re-join: join again, then fetch what was missed between the handshake and the join. */
  private rejoin(roomId: string): void {
    const hold = `rejoin`;
    this.order.hold(roomId, hold);
    this.internalRequest<RoomJoinAck>('room.join', { room_id: roomId }).then(
      (ack) => this.catchUp(roomId, ack, hold),
      (error: RoomcastRequestError) => {
        if (error.code === 'CLOSED') return; // socket lost: the next handshake tries again
        this.joined.delete(roomId);
        this.order.release(roomId, hold);
        this.order.forget(roomId);
        this.emitLifecycle('rejoin_failed', { room_id: roomId, error });
      },
    );
  }

  /**
   * A join was acked with the room's `last_seq`. Nothing delivered yet: start after it. Behind:
   * fetch the missing messages with `history` (up to gapFillLimit), report the rest as a gap.
   */
  private catchUp(roomId: string, ack: RoomJoinAck, hold: string): void {
    const lastSeq = typeof ack?.last_seq === 'number' ? ack.last_seq : undefined;
    const delivered = this.order.delivered(roomId);
    if (lastSeq === undefined) return this.order.release(roomId, hold);
    if (delivered === undefined) {
      this.order.baseline(roomId, lastSeq);
      return this.order.release(roomId, hold);
    }
    // Behind by more than gapFillLimit: the next message reveals the gap and it is reported.
    if (lastSeq <= delivered || lastSeq - delivered > this.gapFillLimit()) {
      return this.order.release(roomId, hold);
    }
    this.startFill({ room_id: roomId, from_seq: delivered + 1, to_seq: lastSeq }, hold);
  }

  private gapFillLimit(): number {
    return this.options.gapFillLimit ?? 500;
  }

  /**
   * InboundOrder found a hole (a replay that was not complete, a message missed around a
   * reconnect): fetch it with `history` while the room is held, unless it is too large. Before the
   * session is open (and its rooms joined again) the fetch waits for onHandshake.
   */
  private requestFill(gap: GapInfo): string | undefined {
    const size = gap.to_seq - gap.from_seq + 1;
    if (this.isClosed() || size > this.gapFillLimit()) return undefined;
    const hold = `fill:${++this.fillCounter}`;
    if (this.isOpen) this.startFill(gap, hold);
    else this.pendingFills.push({ gap, hold });
    return hold;
  }

  /** Fetches `gap` and ends the hold `hold` of its room; a lost socket leaves it to the resume. */
  private startFill(gap: GapInfo, hold: string): void {
    void this.fetchMissing(gap.room_id, gap.to_seq).then((lost) => {
      if (!lost) this.order.release(gap.room_id, hold, true);
    });
  }

  /**
   * Feeds the room's messages after the last one delivered, up to `upTo`, from `history` (newest
   * first, in pages of up to 100). `history` reads what is stored, which may trail the seqs
   * already handed out by a few milliseconds: what is still missing is asked again, a few times,
   * with backoff, unless live delivery closed the hole meanwhile. Resolves true when the socket
   * was lost (the next resume replays what is missing).
   */
  private async fetchMissing(roomId: string, upTo: number): Promise<boolean> {
    const attempts = 4;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const after = this.order.delivered(roomId);
      if (after === undefined || after >= upTo || this.isClosed()) return false;
      const found = new Map<number, MessagePayload>();
      try {
        let before = upTo + 1;
        while (before - 1 > after) {
          const page = await this.internalRequest<HistoryAck>('history', {
            room_id: roomId,
            before_seq: before,
            limit: Math.min(100, before - 1 - after),
          });
          const messages = (Array.isArray(page?.messages) ? page.messages : []).filter(
            (m) => m.room_id === roomId && typeof m.seq === 'number' && m.seq > after && m.seq < before,
          );
          for (const m of messages) found.set(m.seq!, m);
          if (messages.length === 0 || page.next_cursor === null || page.next_cursor === undefined) break;
          before = Math.min(...messages.map((m) => m.seq!));
        }
      } catch (err) {
        // history refused: what is missing is reported as a gap; socket lost: the resume replays it
        return err instanceof RoomcastRequestError && err.code === 'CLOSED';
      } finally {
        for (const seq of [...found.keys()].sort((a, b) => a - b)) {
          this.order.accept({ type: 'message', data: found.get(seq)!, at: Date.now() });
        }
      }
      if (attempt < attempts && (this.order.delivered(roomId) ?? upTo) < upTo) {
        await new Promise((r) =>
          setTimeout(r, ((this.options.retryDelayMs ?? 200) * 2 ** (attempt - 1)) / 4),
        );
      }
    }
    return false;
  }

  /** Hands a server event to the handlers and the mailbox. */
  private deliver(event: ReceivedEvent): void {
    this.callHandlers(event);
    this.mailbox.push(event);
  }

  private emitLifecycle<K extends LifecycleEventType>(type: K, data: LifecycleEventMap[K]): void {
    this.callHandlers({ type, data, at: Date.now() });
  }
}

function size(payload: string | ArrayBuffer | ArrayBufferView): number {
  return typeof payload === 'string' ? byteLength(payload) : payload.byteLength;
}

function joinRoomOf(entry: Outgoing): string {
  try {
    const frame = JSON.parse(entry.payload as string) as { data?: { room_id?: unknown } };
    return typeof frame.data?.room_id === 'string' ? frame.data.room_id : '';
  } catch {
    return '';
  }
}

/** The close code and reason behind a failed connection attempt. */
function closeInfoOf(err: unknown): CloseInfo {
  if (err instanceof RoomcastConnectError) {
    if (err.closeCode !== undefined)
      return { code: err.closeCode, reason: err.details.closeReason || err.message };
    const byError: Record<string, number> = { BAD_REQUEST: 4400, UNAUTHORIZED: 4401, FORBIDDEN: 4403 };
    const code = err.code ? byError[err.code] : undefined;
    return { code: code ?? 1006, reason: err.message };
  }
  return { code: 1006, reason: err instanceof Error ? err.message : String(err) };
}

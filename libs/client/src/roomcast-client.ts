// Only type imports from the protocol library: the compiled client has no runtime dependency but
// `ws` (and that one only where the runtime has no WebSocket of its own).
import type {
  ConnectionEvent,
  ErrorBody,
  HelloData,
  MessagePayload,
  RequestMap,
  RequestType,
  ResumedEvent,
  RoomEvent,
  ServerEventMap,
  ServerEventType,
} from '#protocol';
import { RoomcastConnectError, RoomcastRequestError } from './errors.js';
import { EventReceiver } from './event-receiver.js';
import type { ReceivedEvent } from './mailbox.js';
import {
  OPEN,
  resolveWebSocket,
  toBytes,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transport.js';

/** What handlers and waiters can listen to: the server's events plus two of the client's own. */
export interface ClientEventMap extends ServerEventMap {
  /** An `ack` that no pending `request()` claimed (for instance one answering a frame sent with `send()`). */
  ack: unknown;
  /** A binary frame (relayed by the server from another member of the primary room). */
  binary: Uint8Array;
}
export type ClientEventType = keyof ClientEventMap;

export type EventHandler<K extends ClientEventType> = (
  data: ClientEventMap[K],
  event: ReceivedEvent<K, ClientEventMap[K]>,
) => void;
export type EventPredicate<K extends ClientEventType> = (
  data: ClientEventMap[K],
  event: ReceivedEvent<K, ClientEventMap[K]>,
) => boolean;

export interface CloseInfo {
  code: number;
  reason: string;
}

/** An item delivered from the device's offline queue during the handshake. */
export type OfflineItem = {
  [K in 'message' | 'system' | 'mention']: { type: K; data: ServerEventMap[K] };
}['message' | 'system' | 'mention'];

/** The server's answer to `hello`, collected in contract order. */
export interface Handshake {
  connection: ConnectionEvent;
  /** The primary room. */
  room: RoomEvent;
  /** `message` events replayed for `hello.resume`, in arrival order. */
  replayed: MessagePayload[];
  /** One per resumed room, in arrival order. */
  resumed: ResumedEvent[];
  /** Offline items (direct messages, system notifications, mentions), oldest first. */
  offline: OfflineItem[];
  /** `offline_done.count`. */
  offlineCount: number;
  /** Every event type received during the handshake, in order. */
  received: string[];
}

export interface RoomcastClientOptions {
  /** WebSocket implementation; default: the runtime's global WebSocket, else the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Extra HTTP headers on the upgrade request. Node only: selects the `ws` package. */
  headers?: Record<string, string>;
  protocols?: string | string[];
  /** Time for the socket to open. Default 10000. */
  connectTimeoutMs?: number;
  /** Time from `hello` to `offline_done`. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Default timeout of `request()`. Default 10000. */
  requestTimeoutMs?: number;
  /** Default timeout of `waitFor()`/`collect()`. Default 5000. */
  waitTimeoutMs?: number;
  /** How many unconsumed events `waitFor` can still find; 0 keeps none. Default 1000. */
  bufferSize?: number;
  /** Called for a text frame that is not a JSON object (it is otherwise ignored). */
  onInvalidFrame?: (raw: string, reason: string) => void;
  /** Called when an event handler throws. Default: console.error. */
  onHandlerError?: (err: unknown, type: string) => void;
}

export interface HelloOptions {
  /** The hello's `id`; generated when absent. */
  id?: string;
  timeoutMs?: number;
  /**
   * Send the room-manager clients' first frame, `{device_id, identity, room_id?}` with no
   * `type` and no `id`; `resume` and `token` are then not sent.
   */
  legacy?: boolean;
}

export interface RequestOptions {
  /** The request `id` (also the idempotency key of sends); generated when absent. */
  id?: string;
  timeoutMs?: number;
}

interface PendingRequest {
  type: string;
  /** The frame type that answers it. */
  answer: 'ack' | 'room_info';
  resolve(data: unknown): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

interface HandshakeState {
  helloId?: string;
  resumeRooms: Set<string>;
  resumedRooms: Set<string>;
  connection?: ConnectionEvent;
  room?: RoomEvent;
  replayed: MessagePayload[];
  resumed: ResumedEvent[];
  offline: OfflineItem[];
  received: string[];
  error?: ErrorBody;
  refuse(body: ErrorBody): void;
  fail(message: string, details?: { closeCode?: number; closeReason?: string }): void;
  done(offlineCount: number): void;
}

/** Event types of the wire, with `data` objects. `relay` is the client's name for verbatim relays. */
const WIRE_EVENTS: Record<Exclude<ServerEventType, 'relay' | 'error'>, true> = {
  connection: true,
  room: true,
  room_info: true,
  message: true,
  'presence.join': true,
  'presence.leave': true,
  resumed: true,
  offline_done: true,
  system: true,
  pong: true,
  typing: true,
  receipt: true,
  'message.recalled': true,
  mention: true,
};

/** After an `error` answers the hello, how long to wait for the close that usually follows. */
const HELLO_ERROR_CLOSE_GRACE_MS = 1000;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function randomTag(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID().replace(/-/g, '').slice(0, 16);
  return Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 10);
}

/**
 * A typed client of the Roomcast WebSocket protocol (docs/protocol.md), for Node and browsers.
 *
 * ```ts
 * const { client, handshake } = await RoomcastClient.connect(url, { device_id: 'd1', identity: 'ann' });
 * const { seq } = await client.request('message.send', { room_id: handshake.room.room_id, kind: 'text', content: 'hi' });
 * const msg = await other.waitFor('message', (m) => m.seq === seq);
 * ```
 *
 * Events go to `on()` handlers as they arrive and into a bounded mailbox that `waitFor()` reads
 * oldest first, so an event that arrived before the call is still found, and each event is
 * returned by one wait only. Frames that answer a pending request (its `ack`, `error` or
 * `room_info`) settle the request and are not events. The handshake's events reach handlers but
 * not the mailbox: they are in the `Handshake` result.
 */
export class RoomcastClient extends EventReceiver<ClientEventMap> {
  /** Resolves once the socket has closed, with the close code and reason; never rejects. */
  readonly closed: Promise<CloseInfo>;
  /** The `connection` event of the last completed handshake. */
  session?: ConnectionEvent;
  /** The primary room, from the last completed handshake. */
  room?: RoomEvent;

  protected readonly pending = new Map<string, PendingRequest[]>();
  protected handshakeState?: HandshakeState;
  protected closeInfo?: CloseInfo;
  private readonly idPrefix = `c${randomTag()}-`;
  private idCounter = 0;
  private readonly seqs = new Map<string, number>();
  private resolveClosed!: (info: CloseInfo) => void;

  protected constructor(
    protected readonly socket: WebSocketLike,
    protected readonly options: RoomcastClientOptions,
  ) {
    super('RoomcastClient', options);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('message', (event) => this.onData(event.data));
    socket.addEventListener('close', (event) =>
      this.onClose({ code: event.code, reason: String(event.reason ?? '') }),
    );
    // 'error' is always followed by 'close', where everything is settled.
    socket.addEventListener('error', () => undefined);
  }

  /** Opens a socket and completes the handshake (resolves on `offline_done`). */
  static async connect(
    url: string,
    hello: HelloData,
    options: RoomcastClientOptions & HelloOptions = {},
  ): Promise<{ client: RoomcastClient; handshake: Handshake }> {
    const client = await RoomcastClient.open(url, options);
    try {
      const handshake = await client.hello(hello, {
        id: options.id,
        timeoutMs: options.timeoutMs ?? options.handshakeTimeoutMs,
        legacy: options.legacy,
      });
      return { client, handshake };
    } catch (err) {
      if (client.isOpen) client.socket.close(1000, 'handshake failed');
      throw err;
    }
  }

  /** Opens a socket without sending anything (for handshakes written by hand, and their failures). */
  static async open(url: string, options: RoomcastClientOptions = {}): Promise<RoomcastClient> {
    const WebSocketImpl = await resolveWebSocket(options.WebSocket, Boolean(options.headers));
    const socket = options.headers
      ? new WebSocketImpl(url, options.protocols, { headers: options.headers })
      : new WebSocketImpl(url, options.protocols);
    const client = new RoomcastClient(socket, options);
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      let failure = '';
      const timer = setTimeout(() => {
        reject(new RoomcastConnectError(`could not open ${url}: timed out after ${timeoutMs} ms`));
        socket.close();
      }, timeoutMs);
      socket.addEventListener('open', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.addEventListener('error', (event) => {
        failure = event.message ?? (event.error instanceof Error ? event.error.message : '');
      });
      socket.addEventListener('close', (event) => {
        clearTimeout(timer);
        reject(
          new RoomcastConnectError(
            `could not open ${url}${failure ? `: ${failure}` : ''} (close ${event.code})`,
            {
              closeCode: event.code,
              closeReason: String(event.reason ?? ''),
            },
          ),
        );
      });
    });
    return client;
  }

  get isOpen(): boolean {
    return this.socket.readyState === OPEN && !this.closeInfo;
  }

  /**
   * Sends `hello` and collects the answer in contract order: `connection` (with the hello's id),
   * `room`, replayed messages and `resumed` per resumed room, offline items, then `offline_done`.
   * Rejects with RoomcastConnectError on an `error` answer, a close, an order violation or timeout.
   */
  hello(hello: HelloData, opts: HelloOptions = {}): Promise<Handshake> {
    if (this.handshakeState) return Promise.reject(new Error('a handshake is already in progress'));
    const helloId = opts.legacy ? undefined : (opts.id ?? this.nextId('h'));
    const timeoutMs = opts.timeoutMs ?? this.options.handshakeTimeoutMs ?? 10_000;
    return new Promise<Handshake>((resolve, reject) => {
      let errorTimer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        clearTimeout(timer);
        clearTimeout(errorTimer);
        this.handshakeState = undefined;
      };
      const state: HandshakeState = {
        helloId,
        resumeRooms: new Set(Object.keys((!opts.legacy && hello.resume) || {})),
        resumedRooms: new Set(),
        replayed: [],
        resumed: [],
        offline: [],
        received: [],
        // An error answer is usually followed by a close (4400, 4401, ...); wait briefly for its code.
        refuse: (body) => {
          state.error = body;
          errorTimer = setTimeout(
            () => state.fail(`${body.code}: ${body.message}`),
            HELLO_ERROR_CLOSE_GRACE_MS,
          );
        },
        fail: (message, details = {}) => {
          finish();
          reject(
            new RoomcastConnectError(`handshake failed: ${message}`, {
              ...details,
              error: state.error,
              received: state.received,
            }),
          );
        },
        done: (offlineCount) => {
          finish();
          this.session = state.connection;
          this.room = state.room;
          resolve({
            connection: state.connection!,
            room: state.room!,
            replayed: state.replayed,
            resumed: state.resumed,
            offline: state.offline,
            offlineCount,
            received: state.received,
          });
        },
      };
      const timer = setTimeout(
        () =>
          state.fail(
            `no offline_done within ${timeoutMs} ms (received: ${state.received.join(', ') || 'nothing'})`,
          ),
        timeoutMs,
      );
      this.handshakeState = state;
      if (this.closeInfo) return state.fail('socket is closed', this.closeDetails());
      const data: Record<string, unknown> = opts.legacy
        ? {
            device_id: hello.device_id,
            identity: hello.identity,
            ...(hello.room_id ? { room_id: hello.room_id } : {}),
          }
        : { type: 'hello', id: helloId, data: hello };
      try {
        this.socket.send(JSON.stringify(data));
      } catch (err) {
        state.fail(`could not send hello: ${(err as Error).message}`);
      }
    });
  }

  /**
   * Sends a request and resolves with its `ack` data (`query_room`: the `room_info` data).
   * Rejects with RoomcastRequestError on an `error` answer (its code, message and
   * `retry_after_ms`), on timeout (`TIMEOUT`) and when the socket closes first (`CLOSED`).
   * Several requests may share an id (idempotency tests): answers settle them in order.
   */
  request<T extends RequestType>(
    type: T,
    data: RequestMap[T]['data'],
    opts: RequestOptions = {},
  ): Promise<RequestMap[T]['ack']> {
    return this.rawRequest<RequestMap[T]['ack']>(type, data, opts);
  }

  /** `request()` for a type the protocol library does not type (yet); the caller names the ack. */
  rawRequest<A = unknown>(type: string, data?: unknown, opts: RequestOptions = {}): Promise<A> {
    const id = opts.id ?? this.nextId();
    const timeoutMs = opts.timeoutMs ?? this.options.requestTimeoutMs ?? 10_000;
    return new Promise<A>((resolve, reject) => {
      if (!this.isOpen) {
        return reject(new RoomcastRequestError('CLOSED', `${type} not sent: socket is closed`, id, type));
      }
      const entry: PendingRequest = {
        type,
        answer: type === 'query_room' ? 'room_info' : 'ack',
        resolve: (value) => resolve(value as A),
        reject,
        timer: setTimeout(() => {
          this.removePending(id, entry);
          reject(
            new RoomcastRequestError(
              'TIMEOUT',
              `${type} (id ${id}): no answer within ${timeoutMs} ms`,
              id,
              type,
            ),
          );
        }, timeoutMs),
      };
      const queue = this.pending.get(id) ?? [];
      queue.push(entry);
      this.pending.set(id, queue);
      try {
        this.socket.send(JSON.stringify(data === undefined ? { type, id } : { type, id, data }));
      } catch (err) {
        clearTimeout(entry.timer);
        this.removePending(id, entry);
        reject(new RoomcastRequestError('CLOSED', `${type} not sent: ${(err as Error).message}`, id, type));
      }
    });
  }

  /** Application-level ping: resolves with the `pong` data. */
  async ping(timeoutMs?: number): Promise<{ ts: number }> {
    this.send({ type: 'ping' });
    return this.waitFor('pong', undefined, timeoutMs);
  }

  /**
   * Sends a frame as it is: an object is serialised to JSON, a string is sent verbatim (to test
   * the server with frames that are not JSON). Throws when the socket is not open.
   */
  send(frame: object | string): void {
    this.assertOpen();
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a binary frame (relayed to the other members of the primary room). */
  sendBinary(data: ArrayBuffer | ArrayBufferView): void {
    this.assertOpen();
    this.socket.send(data);
  }

  /** The highest `seq` received for a room (from live or replayed `message` events), if any. */
  lastSeq(roomId: string): number | undefined {
    return this.seqs.get(roomId);
  }

  /** Closes the socket (code 1000 unless given) and resolves once it has closed. */
  close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (!this.closeInfo && this.socket.readyState <= OPEN) this.socket.close(code, reason);
    return this.closed;
  }

  /** Generates a request id: unique across clients and runs, within the 64-character limit. */
  nextId(prefix = 'r'): string {
    return `${prefix}${this.idPrefix}${(++this.idCounter).toString(36)}`;
  }

  // ---- incoming frames ------------------------------------------------------------------------

  protected onData(raw: unknown): void {
    if (typeof raw !== 'string') {
      const bytes = toBytes(raw);
      if (bytes) this.emit({ type: 'binary', data: bytes, at: Date.now() });
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      return this.invalid(raw, 'not JSON');
    }
    if (!isObject(frame)) return this.invalid(raw, 'not a JSON object');
    this.onFrame(frame);
  }

  protected onFrame(frame: Record<string, unknown>): void {
    const type = frame.type;
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    const at = Date.now();

    if (type === 'ack') {
      if (id !== undefined && this.settlePending(id, 'ack', frame.data)) return;
      return this.emit({ type: 'ack', id, data: frame.data, at });
    }

    if (type === 'error' && isObject(frame.error) && typeof frame.error.code === 'string') {
      const body = frame.error as unknown as ErrorBody;
      if (id !== undefined && this.failPending(id, body)) return;
      const hs = this.handshakeState;
      if (hs && !hs.error && (id === undefined ? !hs.connection : id === hs.helloId)) {
        hs.received.push('error');
        hs.refuse(body);
        return;
      }
      return this.emit({ type: 'error', id, data: body, at });
    }

    if (typeof type === 'string' && type in WIRE_EVENTS && isObject(frame.data)) {
      if (type === 'room_info' && id !== undefined && this.settlePending(id, 'room_info', frame.data)) return;
      return this.emit({ type, id, data: frame.data, at });
    }

    // Anything else (no type, the room-manager `text` frame, relayed unknown types) was relayed
    // verbatim from another client.
    this.emit({ type: 'relay', id, data: frame, at });
  }

  protected emit(event: ReceivedEvent): void {
    if (event.type === 'message') {
      const m = event.data as MessagePayload;
      if (m.room_id && typeof m.seq === 'number' && m.seq > (this.seqs.get(m.room_id) ?? -Infinity)) {
        this.seqs.set(m.room_id, m.seq);
      }
    }
    const claimedByHandshake = this.handshakeState
      ? this.onHandshakeEvent(this.handshakeState, event)
      : false;
    this.callHandlers(event);
    if (!claimedByHandshake) this.mailbox.push(event);
  }

  /** Checks the contract order; returns true when the event belongs to the handshake result. */
  protected onHandshakeEvent(hs: HandshakeState, event: ReceivedEvent): boolean {
    const { type } = event;
    const outOfOrder = (why: string) => {
      hs.received.push(type);
      hs.fail(`${why} (received: ${hs.received.join(', ')})`);
      return true;
    };
    switch (type) {
      case 'connection':
        if (hs.connection) return outOfOrder('second connection event');
        if (hs.helloId !== undefined && event.id !== hs.helloId) {
          return outOfOrder(
            `connection event carries id ${JSON.stringify(event.id)}, not the hello's ${hs.helloId}`,
          );
        }
        hs.received.push(type);
        hs.connection = event.data as ConnectionEvent;
        return true;
      case 'room':
        if (!hs.connection) return outOfOrder('room before connection');
        if (hs.room) return outOfOrder('second room event');
        hs.received.push(type);
        hs.room = event.data as RoomEvent;
        return true;
      case 'message': {
        if (!hs.room) return outOfOrder('message before room');
        const m = event.data as MessagePayload;
        if (m.room_id && hs.resumeRooms.has(m.room_id) && !hs.resumedRooms.has(m.room_id)) {
          if (hs.offline.length) return outOfOrder('replayed message after offline items');
          hs.received.push(type);
          hs.replayed.push(m);
          return true;
        }
        if (m.to_device_id !== undefined) {
          hs.received.push(type);
          hs.offline.push({ type: 'message', data: m });
          return true;
        }
        return false; // a live room message
      }
      case 'resumed':
        if (!hs.room) return outOfOrder('resumed before room');
        if (hs.offline.length) return outOfOrder('resumed after offline items');
        hs.received.push(type);
        hs.resumed.push(event.data as ResumedEvent);
        hs.resumedRooms.add((event.data as ResumedEvent).room_id);
        return true;
      case 'system':
      case 'mention':
        if (!hs.room) return outOfOrder(`${type} before room`);
        hs.received.push(type);
        hs.offline.push({ type, data: event.data } as OfflineItem);
        return true;
      case 'offline_done':
        if (!hs.room) return outOfOrder('offline_done before room');
        hs.received.push(type);
        hs.done((event.data as { count: number }).count);
        return true;
      default:
        return false;
    }
  }

  protected onClose(info: CloseInfo): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    const why = `closed with ${info.code}${info.reason ? ` ${info.reason}` : ''}`;
    this.handshakeState?.fail(`socket ${why}`, this.closeDetails());
    for (const [id, queue] of this.pending) {
      for (const entry of queue) {
        clearTimeout(entry.timer);
        entry.reject(
          new RoomcastRequestError('CLOSED', `${entry.type} (id ${id}): socket ${why}`, id, entry.type),
        );
      }
    }
    this.pending.clear();
    this.mailbox.close(why);
    this.resolveClosed(info);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private settlePending(id: string, answer: PendingRequest['answer'], data: unknown): boolean {
    const entry = this.pending.get(id)?.find((p) => p.answer === answer);
    if (!entry) return false;
    this.removePending(id, entry);
    clearTimeout(entry.timer);
    entry.resolve(data);
    return true;
  }

  private failPending(id: string, body: ErrorBody): boolean {
    const entry = this.pending.get(id)?.[0];
    if (!entry) return false;
    this.removePending(id, entry);
    clearTimeout(entry.timer);
    entry.reject(RoomcastRequestError.fromBody(body, id, entry.type));
    return true;
  }

  private removePending(id: string, entry: PendingRequest): void {
    const queue = this.pending.get(id);
    if (!queue) return;
    const i = queue.indexOf(entry);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.pending.delete(id);
  }

  private closeDetails() {
    return { closeCode: this.closeInfo?.code, closeReason: this.closeInfo?.reason };
  }

  private invalid(raw: string, reason: string): void {
    this.options.onInvalidFrame?.(raw, reason);
  }

  private assertOpen(): void {
    if (!this.isOpen) {
      throw new Error(
        `RoomcastClient: socket is not open${this.closeInfo ? ` (closed with ${this.closeInfo.code})` : ''}`,
      );
    }
  }
}

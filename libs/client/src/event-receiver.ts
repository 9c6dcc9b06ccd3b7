import type {
  ClientEventMap,
  ClientEventType,
  EventPredicate,
  RoomcastClientOptions,
} from './roomcast-client.js';
import { Mailbox, type ReceivedEvent } from './mailbox.js';

/** What EventReceiver reads of a client's options (documented there). */
type EventReceiverOptions = Pick<RoomcastClientOptions, 'bufferSize' | 'waitTimeoutMs' | 'onHandlerError'>;

type Handler<M, K extends keyof M & string> = (data: M[K], event: ReceivedEvent<K, M[K]>) => void;

/**
 * How both clients hand out what they receive: `on()` handlers by event type, and a bounded
 * mailbox of server events that `waitFor()`, `collect()` and `drain()` read. `M` is every
 * type a handler can listen to; only server events (ClientEventMap) reach the mailbox.
 */
export abstract class EventReceiver<M extends ClientEventMap> {
  protected readonly mailbox: Mailbox;
  private readonly handlers = new Map<string, Set<Handler<M, keyof M & string>>>();

  /** `name` prefixes the default report of a handler that threw. */
  protected constructor(
    private readonly name: string,
    private readonly eventOptions: EventReceiverOptions,
  ) {
    this.mailbox = new Mailbox(eventOptions.bufferSize ?? 1000);
  }

  /** Calls `handler` for every event of `type`; returns the unsubscribe function. */
  on<K extends keyof M & string>(type: K, handler: Handler<M, K>): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    const h = handler as unknown as Handler<M, keyof M & string>;
    set.add(h);
    return () => void set.delete(h);
  }

  /** Like `on`, for the next event of `type` only. */
  once<K extends keyof M & string>(type: K, handler: Handler<M, K>): () => void {
    const off = this.on(type, (data, event) => {
      off();
      handler(data, event);
    });
    return off;
  }

  /**
   * Resolves with the oldest unconsumed event of `type` matching `predicate`, including one that
   * arrived before the call, and consumes it. Rejects (RoomcastWaitError) on timeout, listing
   * what was received instead, and at once when the client has closed.
   */
  async waitFor<K extends ClientEventType>(
    type: K,
    predicate?: EventPredicate<K>,
    timeoutMs?: number,
  ): Promise<ClientEventMap[K]> {
    const event = await this.mailbox.wait(
      matcher(type, predicate),
      timeoutMs ?? this.eventOptions.waitTimeoutMs ?? 5000,
      `waitFor("${type}")`,
    );
    return event.data as ClientEventMap[K];
  }

  /** Waits for `count` events of `type` (in arrival order); on failure, none is consumed. */
  async collect<K extends ClientEventType>(
    type: K,
    count: number,
    predicate?: EventPredicate<K>,
    timeoutMs?: number,
  ): Promise<Array<ClientEventMap[K]>> {
    const got = await this.mailbox.collect(
      matcher(type, predicate),
      count,
      timeoutMs ?? this.eventOptions.waitTimeoutMs ?? 5000,
      `collect("${type}", ${count})`,
    );
    return got.map((e) => e.data as ClientEventMap[K]);
  }

  /** Removes and returns the unconsumed events (of `type`, when given), oldest first. */
  drain<K extends ClientEventType>(type: K): Array<ReceivedEvent<K, ClientEventMap[K]>>;
  drain(): ReceivedEvent[];
  drain(type?: string): ReceivedEvent[] {
    return this.mailbox.takeAll((e) => type === undefined || e.type === type);
  }

  /** Calls the handlers of the event's type in turn; one that throws does not stop the others. */
  protected callHandlers(event: ReceivedEvent): void {
    // A copy: a handler may unsubscribe itself (once) or others while they are called.
    for (const handler of [...(this.handlers.get(event.type) ?? [])]) {
      try {
        handler(event.data as never, event as never);
      } catch (err) {
        (this.eventOptions.onHandlerError ?? reportHandlerError(this.name))(err, event.type);
      }
    }
  }
}

function matcher<K extends ClientEventType>(type: K, predicate?: EventPredicate<K>) {
  return (e: ReceivedEvent) =>
    e.type === type &&
    (!predicate || predicate(e.data as ClientEventMap[K], e as ReceivedEvent<K, ClientEventMap[K]>));
}

function reportHandlerError(name: string) {
  return (err: unknown, type: string) => console.error(`${name}: "${type}" handler threw`, err);
}

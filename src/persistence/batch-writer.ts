export interface BatchWriterOptions<T> {
  /** Most items per write; what arrives beyond waits for the next write. */
  maxSize: number;
  /**
   * How long the first item of an idle writer waits for others before the write starts.
   * 0: the write starts at the end of the current turn of the event loop, with what that
   * turn added.
   */
  maxWaitMs: number;
  /** Writes one batch; must throw when nothing (or not everything) was written. */
  write(items: T[]): Promise<void>;
}

interface Pending<T> {
  item: T;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Groups items into writes, one write at a time (group commit): an idle writer starts a
 * write at once (or after maxWaitMs), and whatever arrives while a write is under way goes
 * into the next one. Under little load an item waits for no timer; under much load batches
 * grow by themselves, up to maxSize, and the database gets one statement at a time instead
 * of a burst of small ones.
 *
 * Each `add` settles with its batch: it resolves once the batch is written and rejects when
 * the write fails, so a caller (a queue job) can retry on its own. When a batch of several
 * items fails, each item is written alone once before giving up: one bad row then fails
 * only its own job instead of every job that happened to share its batch.
 */
export class BatchWriter<T> {
  private waiting: Pending<T>[] = [];
  private writing = false;
  private started?: NodeJS.Timeout | NodeJS.Immediate;

  constructor(private readonly options: BatchWriterOptions<T>) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.writing || this.started) return;
      this.started =
        this.options.maxWaitMs > 0
          ? setTimeout(() => void this.drain(), this.options.maxWaitMs)
          : setImmediate(() => void this.drain());
    });
  }

  /** Writes until nothing waits; each add() settles through its own promise. */
  private async drain(): Promise<void> {
    this.started = undefined;
    this.writing = true;
    while (this.waiting.length > 0) await this.writeBatch(this.waiting.splice(0, this.options.maxSize));
    this.writing = false;
  }

  private async writeBatch(batch: Pending<T>[]): Promise<void> {
    try {
      await this.options.write(batch.map((p) => p.item));
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length === 1) batch[0].reject(err);
      else await Promise.all(batch.map((p) => this.writeBatch([p])));
    }
  }
}

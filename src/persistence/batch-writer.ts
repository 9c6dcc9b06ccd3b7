export interface BatchWriterOptions<T> {
  /** A batch is written as soon as it holds this many items. */
  maxSize: number;
  /** ...or this long after its first item arrived, whichever comes first. */
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
 * Groups items that arrive close together into one write. Each `add` settles with its
 * batch: it resolves once the batch is written and rejects when the write fails, so a
 * caller (a queue job) can retry on its own. When a batch of several items fails, each
 * item is written alone once before giving up: one bad row then fails only its own job
 * instead of every job that happened to share its batch.
 */
export class BatchWriter<T> {
  private batch: Pending<T>[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BatchWriterOptions<T>) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ item, resolve, reject });
      if (this.batch.length >= this.options.maxSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    // Each add() settles through its own promise; nothing awaits the batch as a whole.
    void this.writeBatch(batch);
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

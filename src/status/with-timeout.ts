/** Thrown by `withTimeout` when the work did not settle in time. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Settles like `work`, or rejects with TimeoutError after `ms`. Every read of a dependency
 * made for an operator (stats, metrics, status line, queue admin) is bounded with it, so an
 * unreachable Redis makes them answer quickly instead of hanging.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Wraps `work` so that a call made while the previous one is still running shares it. A
 * read that outlives its timeout (Redis unreachable: BullMQ waits for its connection) then
 * holds one pending call, not one per probe or scrape until Redis is back.
 */
export function singleFlight<T>(work: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => {
    running ??= work().finally(() => (running = null));
    return running;
  };
}

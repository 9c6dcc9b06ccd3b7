/** The IPC between a benchmark and its load-generator processes (child_process.fork-style channel). */

/** Whoever receives a generator's messages: the waiters get each message as it comes. */
export interface Listener<M extends { type: string }> {
  waiters: Array<(message: M) => void>;
}

/** The next message of `type` from the generator. */
export function nextMessage<M extends { type: string }, T extends M['type']>(
  from: Listener<M>,
  type: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve) => {
    const waiter = (message: M) => {
      if (message.type !== type) return;
      from.waiters = from.waiters.filter((w) => w !== waiter);
      resolve(message as Extract<M, { type: T }>);
    };
    from.waiters.push(waiter);
  });
}

/**
 * In a load generator: its configuration (JSON in RC_BENCH_WORKER) and a typed `send` to the
 * parent. Exits when started by hand, and when the parent goes away (even SIGKILL): nothing to
 * report to, so no reason to hold sockets.
 */
export function workerSetup<C, M>(runBy: string): { cfg: C; send(message: M): void } {
  const cfg = JSON.parse(process.env.RC_BENCH_WORKER ?? 'null') as C | null;
  if (!cfg || !process.send) {
    console.error(`load-worker: run by ${runBy} (needs RC_BENCH_WORKER and IPC)`);
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  return { cfg, send: (message) => process.send?.(message) };
}

/** Reconnection policy helpers of ReconnectingClient: the backoff schedule and the close-code rule. */

export interface BackoffOptions {
  /** The cap of the first delay. */
  initialDelayMs: number;
  /** No delay exceeds this. */
  maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter: a delay drawn uniformly from
 * `[0, min(maxDelayMs, initialDelayMs × 2^(attempt-1)))` for the 1-based `attempt`. Full jitter
 * spreads the clients of a restarted server over the whole window instead of bunching them up.
 * `random` stands for Math.random (injectable for tests).
 */
export function backoffDelay(
  attempt: number,
  { initialDelayMs, maxDelayMs }: BackoffOptions,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCap(attempt, { initialDelayMs, maxDelayMs }));
}

/** The upper bound of `backoffDelay(attempt)`. */
export function backoffCap(attempt: number, { initialDelayMs, maxDelayMs }: BackoffOptions): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  return Math.max(0, Math.min(maxDelayMs, initialDelayMs * 2 ** exponent));
}

/**
 * Close codes after which the server does not want the same session back (docs/protocol.md,
 * "Close codes"): 4400 bad handshake (fix the client), 4401 unauthorized (needs a new token),
 * 4403 forbidden (kicked, or the primary room is full), 4409 replaced (a newer connection of the
 * same device won).
 */
export const NO_RECONNECT_CLOSE_CODES: readonly number[] = [4400, 4401, 4403, 4409];

/**
 * The default reconnection rule: reconnect after anything but the codes of
 * NO_RECONNECT_CLOSE_CODES — network loss (1006), server shutdown (1001), server errors (1011,
 * 1013), handshake timeout (4408), an oversized frame (1009: the frame is dropped), rate-limit
 * abuse (4429, with backoff) and a server-side close with 1000.
 */
export function defaultShouldReconnect(closeCode: number): boolean {
  return !NO_RECONNECT_CLOSE_CODES.includes(closeCode);
}

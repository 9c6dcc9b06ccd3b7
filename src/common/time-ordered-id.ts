import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

const IDS_PER_DRAW = 256;
const pool = Buffer.alloc(16 * IDS_PER_DRAW);
let used = pool.length;
let lastMs = -Infinity;
let seq = 0;

/**
 * A UUIDv7 (message and notification ids), monotonic within the process like uuid's own
 * `v7()`: in the same millisecond the 31-bit counter after the time goes up by one, so ids
 * sort in the order they were made. uuid draws 16 random bytes from the OS for every id, a
 * system call each (1.4 % of a busy server's samples); this draws them for 256 ids at once.
 */
export function timeOrderedId(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const random = pool.subarray(used, (used += 16));
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    seq = random.readUInt32BE(6) & 0x7fffffff;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  return v7({ msecs: lastMs, seq, random });
}

/**
 * Latency histogram: 0.05 ms buckets up to 1 s, one overflow bucket, and the exact maximum.
 * Load generators fill one per scenario step and send its non-empty buckets to the parent,
 * which merges them: percentiles over millions of deliveries without shipping every sample.
 */
const BUCKET_MS = 0.05;
const BUCKETS = 20_000;

export interface SparseHistogram {
  /** [bucket index, count] of the non-empty buckets. */
  buckets: Array<[number, number]>;
  max: number;
}

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS + 1);
  count = 0;
  max = 0;

  record(ms: number): void {
    const i = ms <= 0 ? 0 : Math.min(BUCKETS, Math.floor(ms / BUCKET_MS));
    this.counts[i]++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  toSparse(): SparseHistogram {
    const buckets: Array<[number, number]> = [];
    this.counts.forEach((n, i) => n && buckets.push([i, n]));
    return { buckets, max: this.max };
  }

  add(sparse: SparseHistogram): void {
    for (const [i, n] of sparse.buckets) {
      this.counts[i] += n;
      this.count += n;
    }
    if (sparse.max > this.max) this.max = sparse.max;
  }

  /** The upper edge of the bucket holding the p-th percentile (the exact max for p = 100). */
  percentile(p: number): number {
    if (!this.count) return NaN;
    if (p >= 100) return this.max;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i === BUCKETS ? this.max : Math.min(this.max, (i + 1) * BUCKET_MS);
    }
    return this.max;
  }
}

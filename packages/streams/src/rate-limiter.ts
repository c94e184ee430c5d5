/**
 * A token bucket: holds up to `capacity` tokens and gains `ratePerSecond` per second. Time comes
 * from the caller, so tests can drive it with a fake clock.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /**
   * Milliseconds until `amount` tokens are there (0 when they are now). A request for more than
   * the capacity waits for a full bucket, so that an oversized item still goes through.
   */
  waitFor(amount: number, now: number): number {
    this.refill(now);
    const needed = Math.min(amount, this.capacity);
    if (this.tokens >= needed) return 0;
    return Math.max(1, Math.ceil(((needed - this.tokens) / this.ratePerSecond) * 1000));
  }

  /** Removes `amount` tokens; the balance may go negative, which delays what comes next. */
  take(amount: number, now: number): void {
    this.refill(now);
    this.tokens -= amount;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
      this.last = now;
    }
  }
}

/** Limits of one shard: records and bytes per second. */
export interface ShardRate {
  recordsPerSecond: number;
  bytesPerSecond: number;
}

/**
 * One pair of token buckets (records, bytes) per shard, so that a producer never sends a shard
 * more than Kinesis accepts and so never makes its own throttling errors.
 */
export class ShardRateLimiter {
  private readonly buckets = new Map<number, { records: TokenBucket; bytes: TokenBucket }>();

  constructor(private readonly rate: ShardRate) {}

  /** Milliseconds until shard `shard` can take one record of `bytes` (0: now). */
  waitFor(shard: number, bytes: number, now: number): number {
    const bucket = this.bucket(shard, now);
    return Math.max(bucket.records.waitFor(1, now), bucket.bytes.waitFor(bytes, now));
  }

  /** Counts one record of `bytes` against shard `shard`. */
  take(shard: number, bytes: number, now: number): void {
    const bucket = this.bucket(shard, now);
    bucket.records.take(1, now);
    bucket.bytes.take(bytes, now);
  }

  /** Forgets every shard (after a reshard the indexes mean other shards). */
  reset(): void {
    this.buckets.clear();
  }

  private bucket(shard: number, now: number): { records: TokenBucket; bytes: TokenBucket } {
    let bucket = this.buckets.get(shard);
    if (bucket === undefined) {
      const { recordsPerSecond, bytesPerSecond } = this.rate;
      bucket = {
        records: new TokenBucket(recordsPerSecond, recordsPerSecond, now),
        bytes: new TokenBucket(bytesPerSecond, bytesPerSecond, now),
      };
      this.buckets.set(shard, bucket);
    }
    return bucket;
  }
}

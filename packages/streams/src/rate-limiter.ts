import { type Clock, TokenBucket } from '@tributary/core';

/** Limits of one shard: records and bytes per second. */
export interface ShardRate {
  recordsPerSecond: number;
  bytesPerSecond: number;
}

/**
 * One pair of core token buckets (records, bytes) per shard, so that a producer never sends a
 * shard more than Kinesis accepts and so never makes its own throttling errors. Each bucket holds
 * one second's worth and starts full; time is read from `clock`.
 */
export class ShardRateLimiter {
  private readonly buckets = new Map<number, { records: TokenBucket; bytes: TokenBucket }>();

  constructor(
    private readonly rate: ShardRate,
    private readonly clock: Clock,
  ) {}

  /**
   * Milliseconds until shard `shard` can take one record of `bytes` (0: now). A record larger
   * than a second's bytes waits for a full bucket, so that it still goes through.
   */
  waitFor(shard: number, bytes: number): number {
    const bucket = this.bucket(shard);
    return Math.max(bucket.records.waitMs(1), bucket.bytes.waitMs(bytes));
  }

  /** Counts one record of `bytes` against shard `shard`; the balance may go negative. */
  take(shard: number, bytes: number): void {
    const bucket = this.bucket(shard);
    bucket.records.debit(1);
    bucket.bytes.debit(bytes);
  }

  /** Forgets every shard (after a reshard the indexes mean other shards). */
  reset(): void {
    this.buckets.clear();
  }

  private bucket(shard: number): { records: TokenBucket; bytes: TokenBucket } {
    let bucket = this.buckets.get(shard);
    if (bucket === undefined) {
      const { recordsPerSecond, bytesPerSecond } = this.rate;
      const { clock } = this;
      bucket = {
        records: new TokenBucket({ capacity: recordsPerSecond, refillPerSecond: recordsPerSecond, clock }),
        bytes: new TokenBucket({ capacity: bytesPerSecond, refillPerSecond: bytesPerSecond, clock }),
      };
      this.buckets.set(shard, bucket);
    }
    return bucket;
  }
}

import { createHash } from 'node:crypto';

/** One open shard and the hash keys it owns (inclusive). */
export interface ShardRange {
  shardId: string | undefined;
  start: bigint;
  end: bigint;
}

/** What `ListShards` returns for a shard, as far as routing is concerned. */
export interface ListedShard {
  ShardId?: string;
  HashKeyRange?: { StartingHashKey?: string; EndingHashKey?: string };
  SequenceNumberRange?: { EndingSequenceNumber?: string };
}

const HASH_KEY_SPACE = 1n << 128n;

/**
 * The 128-bit hash key Kinesis routes a partition key by: the MD5 of its UTF-8 bytes, read as a
 * big-endian unsigned integer.
 */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

/**
 * The open shards of a stream, sorted by hash key range, so that a producer can tell which shard
 * a partition key lands on (for its per-shard rate limits and for aggregating per shard) the way
 * Kinesis does.
 */
export class ShardMap {
  private readonly ranges: readonly ShardRange[];
  private readonly starts: readonly bigint[];

  constructor(ranges: readonly ShardRange[]) {
    this.ranges = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.starts = this.ranges.map((range) => range.start);
  }

  /** `count` shards splitting the hash key space evenly, as `CreateStream` makes them. */
  static uniform(count: number): ShardMap {
    const width = HASH_KEY_SPACE / BigInt(count);
    const ranges: ShardRange[] = [];
    for (let i = 0; i < count; i++) {
      const start = width * BigInt(i);
      const end = i === count - 1 ? HASH_KEY_SPACE - 1n : width * BigInt(i + 1) - 1n;
      ranges.push({ shardId: undefined, start, end });
    }
    return new ShardMap(ranges);
  }

  /** The open shards (no ending sequence number) among those `ListShards` listed. */
  static fromListedShards(shards: readonly ListedShard[]): ShardMap {
    const ranges: ShardRange[] = [];
    for (const shard of shards) {
      if (shard.SequenceNumberRange?.EndingSequenceNumber !== undefined) continue;
      const start = shard.HashKeyRange?.StartingHashKey;
      const end = shard.HashKeyRange?.EndingHashKey;
      if (start === undefined || end === undefined) continue;
      ranges.push({ shardId: shard.ShardId, start: BigInt(start), end: BigInt(end) });
    }
    return new ShardMap(ranges);
  }

  /** Number of shards. */
  get size(): number {
    return this.ranges.length;
  }

  /** The shard at `index` (0 ≤ index < size). */
  at(index: number): ShardRange | undefined {
    return this.ranges[index];
  }

  /** Index of the shard owning `hashKey`, or -1 when no open shard covers it (a stale map). */
  indexOfHashKey(hashKey: bigint): number {
    let low = 0;
    let high = this.starts.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if ((this.starts[middle] as bigint) <= hashKey) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    if (found === -1) return -1;
    return hashKey <= (this.ranges[found] as ShardRange).end ? found : -1;
  }

  /** Index of the shard a record with this partition key (or explicit hash key) goes to, or -1. */
  indexOf(partitionKey: string, explicitHashKey?: string): number {
    return this.indexOfHashKey(
      explicitHashKey === undefined ? hashKeyOf(partitionKey) : BigInt(explicitHashKey),
    );
  }
}

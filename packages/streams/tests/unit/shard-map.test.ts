import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ShardRateLimiter, TokenBucket } from '../../src/rate-limiter.js';
import { hashKeyOf, ShardMap } from '../../src/shard-map.js';

const TWO_128 = 2n ** 128n;

describe('hashKeyOf', () => {
  it('is the MD5 of the UTF-8 key read as a 128-bit unsigned integer', () => {
    // md5("") = d41d8cd98f00b204e9800998ecf8427e
    expect(hashKeyOf('')).toBe(0xd41d8cd98f00b204e9800998ecf8427en);
    expect(hashKeyOf('pump-7')).toBe(BigInt(`0x${createHash('md5').update('pump-7').digest('hex')}`));
    expect(hashKeyOf('°C')).not.toBe(hashKeyOf('\u00b0c'));
  });
});

describe('ShardMap', () => {
  describe('uniform', () => {
    it('splits the hash key space the way CreateStream does', () => {
      const map = ShardMap.uniform(3);
      const width = TWO_128 / 3n;

      expect(map.size).toBe(3);
      expect(map.at(0)).toEqual({ shardId: undefined, start: 0n, end: width - 1n });
      expect(map.at(1)).toEqual({ shardId: undefined, start: width, end: 2n * width - 1n });
      expect(map.at(2)).toEqual({ shardId: undefined, start: 2n * width, end: TWO_128 - 1n });
    });
  });

  describe('fromListedShards', () => {
    const listed = [
      // out of order, uneven, with a closed parent that must be ignored
      {
        ShardId: 'shardId-000000000002',
        HashKeyRange: { StartingHashKey: String(TWO_128 / 2n), EndingHashKey: String(TWO_128 - 1n) },
        SequenceNumberRange: {},
      },
      {
        ShardId: 'shardId-000000000000',
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(TWO_128 - 1n) },
        SequenceNumberRange: { EndingSequenceNumber: '49' },
      },
      {
        ShardId: 'shardId-000000000001',
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(TWO_128 / 2n - 1n) },
        SequenceNumberRange: {},
      },
    ];

    it('keeps the open shards, sorted by range, and finds a partition key by its MD5', () => {
      const map = ShardMap.fromListedShards(listed);
      // Pick keys on each side of the split.
      const keys = Array.from({ length: 40 }, (_, i) => `sensor-${i}`);
      const low = keys.find((key) => hashKeyOf(key) < TWO_128 / 2n) as string;
      const high = keys.find((key) => hashKeyOf(key) >= TWO_128 / 2n) as string;

      expect(map.size).toBe(2);
      expect(map.at(0)?.shardId).toBe('shardId-000000000001');
      expect(map.indexOf(low)).toBe(0);
      expect(map.indexOf(high)).toBe(1);
    });

    it('routes by the explicit hash key when there is one, inclusive at both ends of a range', () => {
      const map = ShardMap.fromListedShards(listed);

      expect(map.indexOf('any', String(TWO_128 / 2n - 1n))).toBe(0);
      expect(map.indexOf('any', String(TWO_128 / 2n))).toBe(1);
      expect(map.indexOf('any', String(TWO_128 - 1n))).toBe(1);
      expect(map.indexOf('any', '0')).toBe(0);
    });

    it('answers -1 for a hash key no open shard covers (a stale map)', () => {
      const map = ShardMap.fromListedShards([listed[0] as (typeof listed)[number]]);

      expect(map.indexOfHashKey(0n)).toBe(-1);
      expect(map.indexOfHashKey(TWO_128 / 2n)).toBe(0);
    });
  });
});

describe('TokenBucket', () => {
  describe('waitFor', () => {
    it('starts full, then refills at its rate', () => {
      const bucket = new TokenBucket(10, 10, 0);

      expect(bucket.waitFor(10, 0)).toBe(0);
      bucket.take(10, 0);
      expect(bucket.waitFor(1, 0)).toBe(100);
      expect(bucket.waitFor(1, 100)).toBe(0);
      expect(bucket.waitFor(5, 100)).toBe(400);
    });

    it('lets an item larger than the capacity through once the bucket is full', () => {
      const bucket = new TokenBucket(100, 100, 0);
      bucket.take(30, 0);

      expect(bucket.waitFor(500, 0)).toBe(300);
      expect(bucket.waitFor(500, 300)).toBe(0);
    });
  });
});

describe('ShardRateLimiter', () => {
  describe('waitFor', () => {
    it('keeps each shard at its own rate of records and bytes', () => {
      const limiter = new ShardRateLimiter({ recordsPerSecond: 2, bytesPerSecond: 1000 });
      limiter.take(0, 10, 0);
      limiter.take(0, 10, 0);

      expect(limiter.waitFor(0, 10, 0)).toBe(500);
      expect(limiter.waitFor(1, 10, 0)).toBe(0);
      limiter.take(1, 900, 0);
      expect(limiter.waitFor(1, 600, 0)).toBe(500);
    });
  });
});

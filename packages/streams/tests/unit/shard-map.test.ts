import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ShardRateLimiter } from '../../src/rate-limiter.js';
import { hashKeyOf, ShardMap } from '../../src/shard-map.js';
import { manualClock } from '../fixtures/producers.js';

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

describe('ShardRateLimiter', () => {
  describe('waitFor', () => {
    it("starts each shard's buckets full, then refills them at their rate, on the clock it is given", () => {
      const clock = manualClock();
      const limiter = new ShardRateLimiter({ recordsPerSecond: 10, bytesPerSecond: 1_000_000 }, clock);

      expect(limiter.waitFor(0, 1)).toBe(0);
      for (let i = 0; i < 10; i++) limiter.take(0, 1);
      expect(limiter.waitFor(0, 1)).toBe(100);
      clock.advance(100);
      expect(limiter.waitFor(0, 1)).toBe(0);
    });

    it('lets a record larger than the bytes per second through once the bucket is full', () => {
      const clock = manualClock();
      const limiter = new ShardRateLimiter({ recordsPerSecond: 1_000, bytesPerSecond: 100 }, clock);
      limiter.take(0, 30);

      expect(limiter.waitFor(0, 500)).toBe(300);
      clock.advance(300);
      expect(limiter.waitFor(0, 500)).toBe(0);
    });

    it('keeps each shard at its own rate of records and bytes', () => {
      const limiter = new ShardRateLimiter({ recordsPerSecond: 2, bytesPerSecond: 1000 }, manualClock());
      limiter.take(0, 10);
      limiter.take(0, 10);

      expect(limiter.waitFor(0, 10)).toBe(500);
      expect(limiter.waitFor(1, 10)).toBe(0);
      limiter.take(1, 900);
      expect(limiter.waitFor(1, 600)).toBe(500);
    });
  });

  describe('reset', () => {
    it('forgets every shard: their buckets start full again', () => {
      const limiter = new ShardRateLimiter({ recordsPerSecond: 1, bytesPerSecond: 1000 }, manualClock());
      limiter.take(0, 1);
      const before = limiter.waitFor(0, 1);

      limiter.reset();

      expect(before).toBe(1000);
      expect(limiter.waitFor(0, 1)).toBe(0);
    });
  });
});

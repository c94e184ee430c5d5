import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
} from '@aws-sdk/client-kinesis';
import {
  type Clock,
  encodeNdjsonLine,
  ItemTooLargeError,
  OptionsError,
  PartialBatchFailureError,
  type TributaryEvent,
  ValidationError,
} from '@tributary/core';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { InvalidPartitionKeyError, ProducerClosedError, ProducerOptionsError } from '../../src/errors.js';
import { KinesisProducer, type KinesisProducerOptions } from '../../src/kinesis-producer.js';
import type { ProducerClock } from '../../src/producer-options.js';
import {
  deferred,
  fakeClock,
  manualClock,
  producerDefaults,
  putAllAndClose,
  reading,
  readings,
  rejectionOf,
  stubbedClient,
  text,
  thrown,
} from '../fixtures/producers.js';
import { byDevice, type Reading } from '../fixtures/readings.js';

const MiB = 1024 * 1024;
const TWO_128 = 2n ** 128n;

const shardOfKey = (key: string, shards: number) =>
  Number(BigInt(`0x${createHash('md5').update(key).digest('hex')}`) / (TWO_128 / BigInt(shards)));

function ok(input: PutRecordsCommandInput): PutRecordsCommandOutput {
  return {
    $metadata: {},
    FailedRecordCount: 0,
    Records: (input.Records ?? []).map((_, i) => ({
      SequenceNumber: String(i),
      ShardId: 'shardId-000000000000',
    })),
  };
}

const kinesis = mockClient(KinesisClient);
const client = stubbedClient(kinesis, (config) => new KinesisClient(config));

function producer<T = Reading>(options: Partial<KinesisProducerOptions<T>> = {}) {
  return new KinesisProducer<T>({
    client: client(),
    streamName: 'sensors',
    partitionKey: byDevice,
    rateLimit: false,
    ...producerDefaults(),
    ...options,
  } as KinesisProducerOptions<T>);
}

const putInputs = () => kinesis.commandCalls(PutRecordsCommand).map((call) => call.args[0].input);

describe('KinesisProducer', () => {
  describe('constructor', () => {
    it('rejects options that make no sense with ProducerOptionsError', () => {
      const bad: [Partial<KinesisProducerOptions>, string][] = [
        [{ streamName: 'no spaces' }, 'streamName'],
        [{ client: {} as KinesisClient }, 'client'],
        [{ shardCount: 0 }, 'shardCount'],
        [{ rateLimit: { recordsPerSecond: -1 } }, 'rateLimit.recordsPerSecond'],
        [{ recordTtlMs: 0 }, 'recordTtlMs'],
        [{ maxBufferedRecords: 1.5 }, 'maxBufferedRecords'],
        [{ partitionKey: 'deviceId' as never }, 'partitionKey'],
      ];
      for (const [options, option] of bad) {
        const error = thrown(() => producer(options));

        expect(error, option).toBeInstanceOf(ProducerOptionsError);
        expect(error, option).toBeInstanceOf(OptionsError);
        expect(error, option).toMatchObject({
          code: 'PRODUCER_OPTIONS_INVALID',
          option,
          context: { option },
        });
      }
    });

    it("takes core's Clock, and refuses the old { now, sleep } shape naming clock", () => {
      const old = { now: () => 0, sleep: async () => {} };

      const error = thrown(() => producer({ clock: old as unknown as Clock }));

      expectTypeOf<ProducerClock>().toEqualTypeOf<Clock>();
      expect(error).toMatchObject({ code: 'PRODUCER_OPTIONS_INVALID', option: 'clock' });
    });
  });

  describe('put', () => {
    it('sends each record as one NDJSON line keyed by its deviceId', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      const p = producer();
      const records = [reading(0, 'temp-1'), reading(1, 'pump-2')];

      for (const record of records) await p.put(record);
      const result = await p.close();

      const [input] = putInputs();
      expect(input?.StreamName).toBe('sensors');
      expect(input?.Records?.map((r) => r.PartitionKey)).toEqual(['temp-1', 'pump-2']);
      expect(input?.Records?.map((r) => text(r.Data))).toEqual(records.map((r) => encodeNdjsonLine(r)));
      expect(text(input?.Records?.[0]?.Data).endsWith('}\n')).toBe(true);
      expect(result).toEqual({ sent: 2, retried: 0, failed: 0 });
    });

    it('refuses a record over 1 MiB (data + partition key) with ItemTooLargeError and keeps the rest', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      const p = producer<Uint8Array>({ encode: (data) => data, partitionKey: () => 'k' });

      const tooLarge = p.put(new Uint8Array(MiB));
      await p.put(new Uint8Array(MiB - 1));
      const result = await p.close();

      await expect(tooLarge).rejects.toBeInstanceOf(ItemTooLargeError);
      await expect(tooLarge).rejects.toMatchObject({
        size: MiB + 1,
        limit: MiB,
        context: { stream: 'sensors' },
      });
      expect(putInputs()[0]?.Records?.map((r) => r.Data?.byteLength)).toEqual([MiB - 1]);
      expect(result.sent).toBe(1);
    });

    it('rejects an invalid record with ValidationError and a bad partition key with InvalidPartitionKeyError', async () => {
      const p = producer();

      await expect(p.put({ ...reading(1), value: 'hot' as unknown as number })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(p.put({ ...reading(1), deviceId: '' })).rejects.toBeInstanceOf(InvalidPartitionKeyError);
      await expect(p.close()).resolves.toEqual({ sent: 0, retried: 0, failed: 0 });
      const long = producer({ partitionKey: () => 'x'.repeat(257) });
      await expect(long.put(reading(1))).rejects.toThrow(/1 to 256 characters/);
    });

    it('knows nothing of the records: without encode it sends any JSON value as a line, validating nothing', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      const p = new KinesisProducer({
        client: client(),
        streamName: 'clicks',
        partitionKey: (click: { page: string; at: number }) => click.page,
        rateLimit: false,
        clock: fakeClock(),
      });
      const clicks = [
        { page: '/home', at: 1 },
        { page: '/cart', at: 2 },
      ];

      const result = await putAllAndClose(p, clicks);

      const [input] = putInputs();
      expect(input?.Records?.map((r) => r.PartitionKey)).toEqual(['/home', '/cart']);
      expect(input?.Records?.map((r) => text(r.Data))).toEqual([
        '{"page":"/home","at":1}\n',
        '{"page":"/cart","at":2}\n',
      ]);
      expect(result).toEqual({ sent: 2, retried: 0, failed: 0 });
    });

    it('has no default partition key: a producer without partitionKey is refused', () => {
      const options = { client: client(), streamName: 'clicks' } as unknown as KinesisProducerOptions;

      const error = thrown(() => new KinesisProducer(options));

      expect(error).toBeInstanceOf(ProducerOptionsError);
      expect((error as ProducerOptionsError).context.option).toBe('partitionKey');
    });

    it('rejects with ProducerClosedError after close()', async () => {
      const p = producer();
      await p.close();

      await expect(p.put(reading(1))).rejects.toBeInstanceOf(ProducerClosedError);
    });

    it('waits while maxBufferedRecords records are in flight (backpressure)', async () => {
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      kinesis.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => {
        await gate;
        return ok(input);
      });
      const p = producer({ maxBufferedRecords: 3 });
      for (let i = 0; i < 3; i++) await p.put(reading(i));

      let fourthAccepted = false;
      const fourth = p.put(reading(3)).then(() => {
        fourthAccepted = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const acceptedWhileFull = fourthAccepted;
      const bufferedWhileFull = p.bufferedRecords;
      release();
      await fourth;
      const result = await p.close();

      expect(acceptedWhileFull).toBe(false);
      expect(bufferedWhileFull).toBe(3);
      // The wait pushed the three buffered records out at once rather than after their linger.
      expect(putInputs()[0]?.Records).toHaveLength(3);
      expect(result).toEqual({ sent: 4, retried: 0, failed: 0 });
    });
  });

  describe('batching', () => {
    it('sends at most 500 records per PutRecords call', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      const p = producer();

      await putAllAndClose(p, readings(1201));

      expect(putInputs().map((input) => input.Records?.length)).toEqual([500, 500, 201]);
    });

    it('keeps each call within 5 MiB counting partition keys', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      // 500 of these fit in 5 MiB by their data alone (5,242,500 bytes), but only 488 with their
      // 256-character keys.
      const dataBytes = 10_485;
      const p = producer<number>({
        encode: () => new Uint8Array(dataBytes),
        partitionKey: (i) => `${i}`.padEnd(256, 'k'),
      });

      await putAllAndClose(
        p,
        Array.from({ length: 1000 }, (_, i) => i),
      );

      const sizes = putInputs().map((input) =>
        (input.Records ?? []).reduce(
          (sum, r) => sum + (r.Data?.byteLength ?? 0) + Buffer.byteLength(r.PartitionKey ?? ''),
          0,
        ),
      );
      expect(500 * dataBytes).toBeLessThanOrEqual(5 * MiB);
      expect(putInputs().map((input) => input.Records?.length)).toEqual([488, 488, 24]);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(5 * MiB);
    });
  });

  describe('partial failures', () => {
    it('sends again exactly the failed entries, matched by position', async () => {
      kinesis
        .on(PutRecordsCommand)
        .resolvesOnce({
          FailedRecordCount: 2,
          Records: [
            { SequenceNumber: '1', ShardId: 'shardId-000000000000' },
            { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' },
            { SequenceNumber: '3', ShardId: 'shardId-000000000000' },
            { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure.' },
            { SequenceNumber: '5', ShardId: 'shardId-000000000000' },
          ],
        })
        .callsFake(ok);
      const p = producer();
      const records = readings(5);

      const result = await putAllAndClose(p, records);

      const [first, second, third] = putInputs();
      expect(first?.Records).toHaveLength(5);
      expect(second?.Records?.map((r) => text(r.Data))).toEqual([
        encodeNdjsonLine(records[1]),
        encodeNdjsonLine(records[3]),
      ]);
      expect(second?.Records?.map((r) => r.PartitionKey)).toEqual([
        records[1]?.deviceId,
        records[3]?.deviceId,
      ]);
      expect(third).toBeUndefined();
      expect(result).toEqual({ sent: 5, retried: 2, failed: 0 });
    });

    it('does not hold a request slot while failed entries wait for their backoff', async () => {
      // Every call fails its first entry once: with 4 slots, the old way kept all 4 waiting on
      // those entries, and the 5th batch of new records waited for them.
      const failedOnce = new Set<string>();
      kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
        const first = text(input.Records?.[0]?.Data);
        const fail = !failedOnce.has(first);
        failedOnce.add(first);
        return {
          FailedRecordCount: fail ? 1 : 0,
          Records: (input.Records ?? []).map((_, i) =>
            fail && i === 0
              ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' }
              : { SequenceNumber: String(i), ShardId: 'shardId-000000000000' },
          ),
        };
      });
      const clock = manualClock();
      const p = producer({ clock, throttledBaseDelayMs: 10_000 });
      const records = readings(2_500);

      const putting = p.putMany(records);
      await vi.waitFor(() => expect(putInputs()).toHaveLength(5), { timeout: 2_000 });
      const beforeBackoff = putInputs().map((input) => input.Records?.length);
      const timeOfFifth = clock.now();
      clock.advance(10_000);
      await putting;
      const result = await p.close();

      expect(beforeBackoff).toEqual([500, 500, 500, 500, 500]);
      expect(timeOfFifth).toBe(0);
      expect(
        putInputs()
          .slice(5)
          .flatMap((input) => input.Records ?? []),
      ).toHaveLength(5);
      expect(result).toEqual({ sent: 2_500, retried: 5, failed: 0 });
    });

    it('sends a failed entry again in a later call, together with new records', async () => {
      const secondCall = deferred();
      let calls = 0;
      kinesis.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => {
        calls++;
        if (calls === 2) await secondCall.promise;
        return {
          FailedRecordCount: calls === 1 ? 1 : 0,
          Records: (input.Records ?? []).map((_, i) =>
            calls === 1 && i === 1
              ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' }
              : { SequenceNumber: String(i), ShardId: 'shardId-000000000000' },
          ),
        };
      });
      const clock = manualClock();
      // One request at a time; the failed entry waits 0.5 × 400 ms.
      const p = producer({ clock, maxConcurrentRequests: 1, throttledBaseDelayMs: 400 });
      const records = readings(8);
      const lines = (input: PutRecordsCommandInput | undefined) => input?.Records?.map((r) => text(r.Data));

      await p.putMany(records.slice(0, 3));
      const flushes = [p.flush()];
      await vi.waitFor(() => expect(putInputs()).toHaveLength(1), { timeout: 2_000 });
      await p.putMany(records.slice(3, 6));
      flushes.push(p.flush());
      await vi.waitFor(() => expect(putInputs()).toHaveLength(2), { timeout: 2_000 });
      const timeOfSecond = clock.now();
      clock.advance(200);
      await p.putMany(records.slice(6));
      flushes.push(p.flush());
      secondCall.resolve();
      await Promise.all(flushes);
      const result = await p.close();

      const encoded = records.map((r) => encodeNdjsonLine(r));
      expect(timeOfSecond).toBe(0);
      expect(lines(putInputs()[1])).toEqual(encoded.slice(3, 6));
      expect(lines(putInputs()[2])).toEqual([encoded[1], ...encoded.slice(6)]);
      expect(putInputs()).toHaveLength(3);
      expect(result).toEqual({ sent: 8, retried: 1, failed: 0 });
    });

    it('backs off longer on throttling than on internal failures (full jitter)', async () => {
      const clock = fakeClock();
      kinesis
        .on(PutRecordsCommand)
        .resolvesOnce({
          FailedRecordCount: 1,
          Records: [{ ErrorCode: 'ProvisionedThroughputExceededException' }],
        })
        .resolvesOnce({
          FailedRecordCount: 1,
          Records: [{ ErrorCode: 'ProvisionedThroughputExceededException' }],
        })
        .resolvesOnce({ FailedRecordCount: 1, Records: [{ ErrorCode: 'InternalFailure' }] })
        .callsFake(ok);
      const p = producer({ clock, random: () => 0.5, baseDelayMs: 100, throttledBaseDelayMs: 400 });

      await p.put(reading(1));
      const result = await p.close();

      // attempt 1 throttled: 0.5 × 400; attempt 2 throttled: 0.5 × 800; attempt 3 internal: 0.5 × 400
      expect(clock.sleeps).toEqual([200, 400, 200]);
      expect(putInputs()).toHaveLength(4);
      expect(result).toEqual({ sent: 1, retried: 3, failed: 0 });
    });

    it('sends a whole call again after a network error, but not after a client error', async () => {
      const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      const missing = Object.assign(new Error('Stream sensors not found'), {
        name: 'ResourceNotFoundException',
        $metadata: { httpStatusCode: 400 },
      });
      kinesis.on(PutRecordsCommand).rejectsOnce(reset).rejectsOnce(missing);
      const p = producer();
      const records = [reading(1), reading(2)];

      await p.putMany(records);
      const error = await p.close().then(
        () => undefined,
        (err: unknown) => err,
      );

      expect(putInputs()).toHaveLength(2);
      expect(putInputs()[1]?.Records).toHaveLength(2);
      expect(error).toBeInstanceOf(PartialBatchFailureError);
      const failure = error as PartialBatchFailureError<Reading>;
      expect(failure.failed.map((f) => f.item)).toEqual(records);
      expect(failure.failed.map((f) => f.code)).toEqual([
        'ResourceNotFoundException',
        'ResourceNotFoundException',
      ]);
      expect(failure.cause).toBe(missing);
      expect(failure.context).toMatchObject({ stream: 'sensors', sent: 0, retried: 2, failed: 2 });
    });

    it('fails entries whose error is not retryable without sending them again', async () => {
      kinesis.on(PutRecordsCommand).resolvesOnce({
        FailedRecordCount: 1,
        Records: [
          { SequenceNumber: '1', ShardId: 'shardId-000000000000' },
          { ErrorCode: 'KMSAccessDeniedException', ErrorMessage: 'no key for you' },
        ],
      });
      const p = producer();
      const records = [reading(1), reading(2)];

      const error = await rejectionOf<PartialBatchFailureError<Reading>>(putAllAndClose(p, records));

      expect(putInputs()).toHaveLength(1);
      expect(error).toBeInstanceOf(PartialBatchFailureError);
      expect(error.failed).toEqual([
        { item: records[1], code: 'KMSAccessDeniedException', message: 'no key for you' },
      ]);
      expect(error.succeededCount).toBe(1);
    });
  });

  describe('recordTtlMs', () => {
    it('fails records not delivered in time with RECORD_TTL_EXPIRED, and nothing else', async () => {
      const clock = fakeClock();
      kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
        FailedRecordCount: 1,
        Records: (input.Records ?? []).map((r) =>
          r.PartitionKey === 'stuck'
            ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' }
            : { SequenceNumber: '1', ShardId: 'shardId-000000000000' },
        ),
      }));
      const p = producer({ clock, recordTtlMs: 5_000, throttledBaseDelayMs: 500, maxDelayMs: 1_000 });
      const stuck = reading(1, 'stuck');

      const error = await rejectionOf<PartialBatchFailureError<Reading>>(
        putAllAndClose(p, [reading(0), stuck, reading(2)]),
      );

      expect(error).toBeInstanceOf(PartialBatchFailureError);
      expect(error.failed).toHaveLength(1);
      expect(error.failed[0]?.item).toBe(stuck);
      expect(error.failed[0]?.code).toBe('RECORD_TTL_EXPIRED');
      expect(error.failed[0]?.message).toMatch(/ProvisionedThroughputExceededException/);
      expect(clock.now()).toBeGreaterThanOrEqual(5_000);
      expect(clock.now()).toBeLessThan(6_000);
      expect(error.context).toMatchObject({ sent: 2, failed: 1 });
    });
  });

  describe('flush', () => {
    it('reports each failure once: flush() rejects, a later close() does not repeat it', async () => {
      kinesis
        .on(PutRecordsCommand)
        .resolvesOnce({ FailedRecordCount: 1, Records: [{ ErrorCode: 'KMSDisabledException' }] })
        .callsFake(ok);
      const p = producer();

      await p.put(reading(1));
      const flushed = await p.flush().catch((err: unknown) => err);
      await p.put(reading(2));
      const closed = await p.close();

      expect(flushed).toBeInstanceOf(PartialBatchFailureError);
      expect((flushed as PartialBatchFailureError).failed).toHaveLength(1);
      expect(closed).toEqual({ sent: 1, retried: 0, failed: 1 });
    });
  });

  describe('close', () => {
    it('returns the same promise when called twice', async () => {
      const p = producer();

      expect(p.close()).toBe(p.close());
      await p.close();
    });
  });

  describe('rate limit', () => {
    it('keeps every shard at or under its records per second, on an injected clock', async () => {
      const clock = fakeClock();
      const sent: { at: number; shards: number[] }[] = [];
      kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
        sent.push({
          at: clock.now(),
          shards: (input.Records ?? []).map((r) => shardOfKey(r.PartitionKey ?? '', 2)),
        });
        return ok(input);
      });
      const p = producer({ clock, shardCount: 2, rateLimit: { recordsPerSecond: 100 } });
      const records = readings(900, 40);
      const perShard = [0, 1].map((s) => records.filter((r) => shardOfKey(r.deviceId, 2) === s).length);

      const result = await putAllAndClose(p, records);

      for (const shard of [0, 1]) {
        let total = 0;
        for (const call of sent) {
          total += call.shards.filter((s) => s === shard).length;
          // a full bucket (100) at the start, then 100 per second
          expect(total).toBeLessThanOrEqual(100 + Math.floor((call.at * 100) / 1000));
        }
      }
      const busiest = Math.max(...perShard);
      expect(perShard.every((n) => n > 100)).toBe(true);
      expect(clock.now()).toBeGreaterThanOrEqual(((busiest - 100) / 100) * 1000);
      expect(result.sent).toBe(900);
    });

    it('limits bytes per shard too', async () => {
      const clock = fakeClock();
      const sent: number[] = [];
      kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
        sent.push(clock.now());
        return ok(input);
      });
      const p = producer<number>({
        clock,
        shardCount: 1,
        rateLimit: { bytesPerSecond: 10_000 },
        encode: () => new Uint8Array(4_999),
        partitionKey: () => 'k',
      });

      await putAllAndClose(p, [1, 2, 3, 4, 5, 6]);

      // 2 records fill the 10,000-byte bucket; each further one waits for 5,000 bytes (0.5 s).
      expect(clock.now()).toBeGreaterThanOrEqual(2_000);
      expect(sent[0]).toBe(0);
    });
  });

  describe('shards', () => {
    it('learns the open shards from ListShards (all pages, closed shards ignored) and rate-limits each', async () => {
      const clock = fakeClock();
      kinesis
        .on(ListShardsCommand, { StreamName: 'sensors' })
        .resolves({
          Shards: [
            {
              ShardId: 'shardId-000000000000',
              HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(TWO_128 - 1n) },
              SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '9' },
            },
          ],
          NextToken: 'page-2',
        })
        .on(ListShardsCommand, { NextToken: 'page-2' })
        .resolves({
          Shards: [
            {
              ShardId: 'shardId-000000000001',
              HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(TWO_128 / 2n - 1n) },
              SequenceNumberRange: { StartingSequenceNumber: '10' },
            },
            {
              ShardId: 'shardId-000000000002',
              HashKeyRange: { StartingHashKey: String(TWO_128 / 2n), EndingHashKey: String(TWO_128 - 1n) },
              SequenceNumberRange: { StartingSequenceNumber: '11' },
            },
          ],
        });
      const calls: { at: number; keys: string[] }[] = [];
      kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
        calls.push({ at: clock.now(), keys: (input.Records ?? []).map((r) => r.PartitionKey ?? '') });
        return ok(input);
      });
      const p = producer({ clock, rateLimit: { recordsPerSecond: 10 } });
      // 10 records for each half of the hash key space: one full bucket per shard.
      const low = Array.from({ length: 200 }, (_, i) => `s-${i}`).filter((k) => shardOfKey(k, 2) === 0);
      const high = Array.from({ length: 200 }, (_, i) => `s-${i}`).filter((k) => shardOfKey(k, 2) === 1);
      const keys = [...low.slice(0, 10), ...high.slice(0, 10)];

      await putAllAndClose(
        p,
        keys.map((key, i) => reading(i, key)),
      );

      expect(kinesis.commandCalls(ListShardsCommand)).toHaveLength(2);
      // Two shards of 10 records/s each: all 20 go at once. One shard would have made 10 wait.
      expect(calls).toHaveLength(1);
      expect(calls[0]?.keys).toHaveLength(20);
    });

    /** Puts a reading into a rate-limited producer whose ListShards fails with `name`: the error and close()'s rejection. */
    async function closeWhenListShardsFails(name: string, message: string) {
      const failure = Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
      kinesis.on(ListShardsCommand).rejects(failure);
      const p = producer({ rateLimit: {} });
      await p.put(reading(1));
      return { failure, error: await rejectionOf<PartialBatchFailureError<Reading>>(p.close()) };
    }

    it('leaves a throttled ListShards to the client: one call, and the batch fails with SHARD_DISCOVERY_FAILED', async () => {
      // aws-sdk-client-mock stubs send, so no SDK retry runs: this is the error the client gives up with.
      const { error } = await closeWhenListShardsFails('LimitExceededException', 'Rate exceeded');

      expect(kinesis.commandCalls(ListShardsCommand)).toHaveLength(1);
      expect(error.failed.map((f) => f.code)).toEqual(['SHARD_DISCOVERY_FAILED']);
    });

    it('fails the batch with SHARD_DISCOVERY_FAILED when ListShards is refused', async () => {
      const { failure, error } = await closeWhenListShardsFails(
        'AccessDeniedException',
        'not authorized to perform kinesis:ListShards',
      );

      expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);
      expect(error.failed.map((f) => f.code)).toEqual(['SHARD_DISCOVERY_FAILED']);
      expect((error.cause as Error).cause).toBe(failure);
    });
  });

  describe('aggregate', () => {
    const agg = createRequire(import.meta.url)('aws-kinesis-agg') as {
      deaggregateSync(
        record: { Data: string; PartitionKey: string; SequenceNumber: string },
        computeChecksums: boolean,
        callback: (err: Error | null, records?: { PartitionKey: string; Data: string }[]) => void,
      ): void;
    };
    const deaggregate = (data: Uint8Array, key: string) => {
      let out: { PartitionKey: string; Data: string }[] = [];
      agg.deaggregateSync(
        { Data: Buffer.from(data).toString('base64'), PartitionKey: key, SequenceNumber: '1' },
        true,
        (err, records) => {
          if (err) throw err;
          out = records ?? [];
        },
      );
      return out;
    };

    it('packs the records of each shard into KPL records that aws-kinesis-agg reads back whole', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      const p = producer({ aggregate: true, shardCount: 2 });
      const records = readings(1000, 20);

      const result = await putAllAndClose(p, records);

      const entries = putInputs().flatMap((input) => input.Records ?? []);
      const users = entries.map((entry) => ({
        entry,
        users: deaggregate(entry.Data ?? new Uint8Array(), entry.PartitionKey ?? ''),
      }));
      const lines = users.flatMap(({ users }) =>
        users.map((u) => Buffer.from(u.Data, 'base64').toString('utf8')),
      );
      expect(entries.length).toBeLessThanOrEqual(2);
      expect(lines.sort()).toEqual(records.map((r) => encodeNdjsonLine(r)).sort());
      for (const { entry, users: inside } of users) {
        expect(entry.PartitionKey).toBe(inside[0]?.PartitionKey);
        expect(new Set(inside.map((u) => shardOfKey(u.PartitionKey, 2))).size).toBe(1);
        for (const user of inside) {
          expect(JSON.parse(Buffer.from(user.Data, 'base64').toString('utf8')).deviceId).toBe(
            user.PartitionKey,
          );
        }
      }
      expect(result).toEqual({ sent: 1000, retried: 0, failed: 0 });
    });

    it('keeps each aggregated record within 1 MiB with its key, and sends a lone record plain', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      const p = producer<number>({
        aggregate: true,
        shardCount: 1,
        encode: (i) => new Uint8Array(i === 99 ? MiB - 10 : 100_000).fill(i),
        partitionKey: (i) => `key-${i}`,
      });

      await putAllAndClose(p, [...Array.from({ length: 25 }, (_, i) => i), 99]);

      const entries = putInputs().flatMap((input) => input.Records ?? []);
      const sizes = entries.map((e) => (e.Data?.byteLength ?? 0) + Buffer.byteLength(e.PartitionKey ?? ''));
      const counts = entries.map((e) => deaggregate(e.Data ?? new Uint8Array(), e.PartitionKey ?? '').length);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MiB);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(26);
      expect(counts.filter((n) => n === 10)).toHaveLength(2);
      const big = entries.find((e) => e.PartitionKey === 'key-99');
      expect(big?.Data?.byteLength).toBe(MiB - 10);
      expect(big?.Data?.[0]).toBe(99);
    });
  });

  describe('events', () => {
    it('emits records.in, batch, retry (with count), failure and records.out', async () => {
      kinesis
        .on(PutRecordsCommand)
        .resolvesOnce({
          FailedRecordCount: 2,
          Records: [
            { ErrorCode: 'ProvisionedThroughputExceededException' },
            { ErrorCode: 'KMSDisabledException' },
            { SequenceNumber: '3', ShardId: 'shardId-000000000000' },
          ],
        })
        .callsFake(ok);
      const events: TributaryEvent[] = [];
      const p = producer({ onEvent: (event) => events.push(event) });

      await p.putMany([reading(1), reading(2), reading(3)]);
      await p.close().catch(() => {});

      const of = <K extends TributaryEvent['type']>(type: K) =>
        events.filter((e): e is Extract<TributaryEvent, { type: K }> => e.type === type);
      expect(of('records.in').map((e) => e.count)).toEqual([1, 1, 1]);
      expect(of('batch').map((e) => e.count)).toEqual([3, 1]);
      expect(of('retry')).toMatchObject([
        {
          source: 'kinesis-producer',
          attempt: 1,
          count: 1,
          reason: 'ProvisionedThroughputExceededException',
        },
      ]);
      expect(of('failure')).toMatchObject([{ count: 1, code: 'KMSDisabledException' }]);
      expect(of('records.out').map((e) => e.count)).toEqual([1, 1]);
    });
  });

  describe('await using', () => {
    it('sends what is buffered when the block ends', async () => {
      kinesis.on(PutRecordsCommand).callsFake(ok);
      {
        await using p = producer();
        await p.put(reading(0, 'temp-1'));
        expect(putInputs()).toHaveLength(0);
      }

      expect(putInputs().map((input) => input.Records?.length)).toEqual([1]);
    });
  });
});

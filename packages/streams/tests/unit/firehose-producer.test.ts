import {
  FirehoseClient,
  PutRecordBatchCommand,
  type PutRecordBatchCommandInput,
  type PutRecordBatchCommandOutput,
} from '@aws-sdk/client-firehose';
import { encodeNdjsonLine, ItemTooLargeError, OptionsError, PartialBatchFailureError } from '@tributary/core';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it, vi } from 'vitest';
import { ProducerOptionsError } from '../../src/errors.js';
import { FirehoseProducer, type FirehoseProducerOptions } from '../../src/firehose-producer.js';
import {
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
import type { Reading } from '../fixtures/readings.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function ok(input: PutRecordBatchCommandInput): PutRecordBatchCommandOutput {
  return {
    $metadata: {},
    FailedPutCount: 0,
    RequestResponses: (input.Records ?? []).map((_, i) => ({ RecordId: `id-${i}` })),
  };
}

const firehose = mockClient(FirehoseClient);
const client = stubbedClient(firehose, (config) => new FirehoseClient(config));

function producer<T = Reading>(options: Partial<FirehoseProducerOptions<T>> = {}) {
  return new FirehoseProducer<T>({
    client: client(),
    deliveryStreamName: 'sensors-raw',
    ...producerDefaults(),
    ...options,
  } as FirehoseProducerOptions<T>);
}

const inputs = () => firehose.commandCalls(PutRecordBatchCommand).map((call) => call.args[0].input);

describe('FirehoseProducer', () => {
  describe('constructor', () => {
    it('rejects a bad delivery stream name or client with ProducerOptionsError', () => {
      expect(() => producer({ deliveryStreamName: 'x'.repeat(65) })).toThrow(ProducerOptionsError);
      expect(() => producer({ client: null as unknown as FirehoseClient })).toThrow(
        /client must be a FirehoseClient/,
      );
      expect(() => producer({ newlineDelimited: 'yes' as unknown as boolean })).toThrow(/newlineDelimited/);
    });

    it("throws core's OptionsError with code PRODUCER_OPTIONS_INVALID, naming the option", () => {
      const error = thrown(() => producer({ deliveryStreamName: 'x'.repeat(65) }));

      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toBeInstanceOf(ProducerOptionsError);
      expect(error).toMatchObject({ code: 'PRODUCER_OPTIONS_INVALID', option: 'deliveryStreamName' });
    });
  });

  describe('put', () => {
    it('knows nothing of the records: without encode it sends any JSON value as a line, validating nothing', async () => {
      firehose.on(PutRecordBatchCommand).callsFake(ok);
      const p = new FirehoseProducer({ client: client(), deliveryStreamName: 'clicks', clock: fakeClock() });

      const result = await putAllAndClose(p, [{ page: '/home' }, { page: '/cart', at: 2 }]);

      expect(inputs()[0]?.Records?.map((r) => text(r.Data))).toEqual([
        '{"page":"/home"}\n',
        '{"page":"/cart","at":2}\n',
      ]);
      expect(result).toEqual({ sent: 2, retried: 0, failed: 0 });
    });

    it('sends NDJSON lines, each record ending with a newline', async () => {
      firehose.on(PutRecordBatchCommand).callsFake(ok);
      const p = producer();
      const records = [reading(1), reading(2)];

      const result = await putAllAndClose(p, records);

      expect(inputs()[0]?.DeliveryStreamName).toBe('sensors-raw');
      expect(inputs()[0]?.Records?.map((r) => text(r.Data))).toEqual(records.map((r) => encodeNdjsonLine(r)));
      expect(result).toEqual({ sent: 2, retried: 0, failed: 0 });
    });

    it('adds the newline a custom encoder left out, unless told not to', async () => {
      firehose.on(PutRecordBatchCommand).callsFake(ok);
      const lines = producer<string>({ encode: (s) => s });
      const raw = producer<string>({ encode: (s) => s, newlineDelimited: false });

      await lines.putMany(['a', 'b\n']);
      await lines.close();
      await raw.put('c');
      await raw.close();

      expect(inputs().map((input) => input.Records?.map((r) => text(r.Data)))).toEqual([
        ['a\n', 'b\n'],
        ['c'],
      ]);
    });

    it('refuses a record over 1,000 KiB (newline included) with ItemTooLargeError', async () => {
      firehose.on(PutRecordBatchCommand).callsFake(ok);
      const p = producer<number>({ encode: (n) => 'x'.repeat(n) });

      const tooLarge = p.put(1000 * KiB);
      await p.put(1000 * KiB - 1);
      await p.close();

      await expect(tooLarge).rejects.toBeInstanceOf(ItemTooLargeError);
      await expect(tooLarge).rejects.toMatchObject({ size: 1000 * KiB + 1, limit: 1000 * KiB });
      expect(inputs()[0]?.Records?.map((r) => r.Data?.byteLength)).toEqual([1000 * KiB]);
    });
  });

  describe('batching', () => {
    it('sends at most 500 records per PutRecordBatch call', async () => {
      firehose.on(PutRecordBatchCommand).callsFake(ok);
      const p = producer();

      await putAllAndClose(p, readings(1001));

      expect(inputs().map((input) => input.Records?.length)).toEqual([500, 500, 1]);
    });

    it('keeps each call within 4 MiB', async () => {
      firehose.on(PutRecordBatchCommand).callsFake(ok);
      // Four of these make 3.5 MiB; a fifth would pass 4 MiB.
      const p = producer<number>({ encode: () => new Uint8Array(900 * KiB).fill(0x61) });

      await putAllAndClose(p, [1, 2, 3, 4, 5, 6, 7, 8, 9]);

      const sizes = inputs().map((input) =>
        (input.Records ?? []).reduce((sum, r) => sum + (r.Data?.byteLength ?? 0), 0),
      );
      expect(inputs().map((input) => input.Records?.length)).toEqual([4, 4, 1]);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4 * MiB);
    });
  });

  describe('partial failures', () => {
    it('sends again only the entries that RequestResponses marks failed (FailedPutCount)', async () => {
      firehose
        .on(PutRecordBatchCommand)
        .resolvesOnce({
          FailedPutCount: 2,
          RequestResponses: [
            { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' },
            { RecordId: 'b' },
            { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' },
            { RecordId: 'd' },
          ],
        })
        .callsFake(ok);
      const p = producer();
      const records = [reading(0), reading(1), reading(2), reading(3)];

      const result = await putAllAndClose(p, records);

      expect(inputs()).toHaveLength(2);
      expect(inputs()[1]?.Records?.map((r) => text(r.Data))).toEqual([
        encodeNdjsonLine(records[0]),
        encodeNdjsonLine(records[2]),
      ]);
      expect(result).toEqual({ sent: 4, retried: 2, failed: 0 });
    });

    it('sends new records while a failed entry waits, and the failed entry with later ones', async () => {
      let releaseSecond: () => void = () => {};
      const secondCall = new Promise<void>((resolve) => {
        releaseSecond = resolve;
      });
      let calls = 0;
      firehose.on(PutRecordBatchCommand).callsFake(async (input: PutRecordBatchCommandInput) => {
        calls++;
        if (calls === 2) await secondCall;
        const responses = (input.Records ?? []).map((_, i) =>
          calls === 1 && i === 0
            ? { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' }
            : { RecordId: `${calls}-${i}` },
        );
        return { FailedPutCount: calls === 1 ? 1 : 0, RequestResponses: responses };
      });
      const clock = manualClock();
      // One request at a time; the failed entry waits 0.5 × 100 ms.
      const p = producer({ clock, maxConcurrentRequests: 1, random: () => 0.5 });
      const records = readings(6);
      const lines = (input: PutRecordBatchCommandInput | undefined) =>
        input?.Records?.map((r) => text(r.Data));

      await p.putMany(records.slice(0, 2));
      const flushes = [p.flush()];
      await vi.waitFor(() => expect(inputs()).toHaveLength(1), { timeout: 2_000 });
      await p.putMany(records.slice(2, 4));
      flushes.push(p.flush());
      await vi.waitFor(() => expect(inputs()).toHaveLength(2), { timeout: 2_000 });
      const timeOfSecond = clock.now();
      clock.advance(50);
      await p.putMany(records.slice(4));
      flushes.push(p.flush());
      releaseSecond();
      await Promise.all(flushes);
      const result = await p.close();

      const encoded = records.map((r) => encodeNdjsonLine(r));
      expect(timeOfSecond).toBe(0);
      expect(lines(inputs()[1])).toEqual(encoded.slice(2, 4));
      expect(lines(inputs()[2])).toEqual([encoded[0], ...encoded.slice(4)]);
      expect(result).toEqual({ sent: 6, retried: 1, failed: 0 });
    });

    it('rejects close() with the records whose error cannot be retried', async () => {
      firehose.on(PutRecordBatchCommand).resolvesOnce({
        FailedPutCount: 1,
        RequestResponses: [
          { RecordId: 'a' },
          { ErrorCode: 'KMS.AccessDeniedException', ErrorMessage: 'denied' },
        ],
      });
      const p = producer();
      const records = [reading(0), reading(1)];

      const error = await rejectionOf<PartialBatchFailureError<Reading>>(putAllAndClose(p, records));

      expect(inputs()).toHaveLength(1);
      expect(error).toBeInstanceOf(PartialBatchFailureError);
      expect(error.failed).toEqual([
        { item: records[1], code: 'KMS.AccessDeniedException', message: 'denied' },
      ]);
      expect(error.context).toMatchObject({ stream: 'sensors-raw', sent: 1, retried: 0, failed: 1 });
    });

    it('fails records with RECORD_TTL_EXPIRED when the stream keeps failing them', async () => {
      const clock = fakeClock();
      firehose.on(PutRecordBatchCommand).callsFake((input: PutRecordBatchCommandInput) => ({
        FailedPutCount: input.Records?.length,
        RequestResponses: (input.Records ?? []).map(() => ({ ErrorCode: 'ServiceUnavailableException' })),
      }));
      const p = producer({ clock, recordTtlMs: 3_000, maxDelayMs: 800 });

      await p.put(reading(7));
      const error = await rejectionOf<PartialBatchFailureError<Reading>>(p.close());

      expect(error.failed.map((f) => [f.item.id, f.code])).toEqual([[reading(7).id, 'RECORD_TTL_EXPIRED']]);
      expect(inputs().length).toBeGreaterThan(2);
      expect(clock.now()).toBeGreaterThanOrEqual(3_000);
    });
  });
});

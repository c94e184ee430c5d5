import { defineSchema, field, OptionsError, type TributaryEvent } from '@tributary/core';
import { type Body, MemoryStorage, type ObjectInfo, type PutOptions } from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { DeliverToLakeError, deliverToLake } from '../../src/delivery.js';
import type { KinesisSource, KinesisSourceRecord } from '../../src/kinesis-source.js';

// deliverToLake knows nothing of the records it delivers: the caller names the prefix and, if it
// wants records checked, the schema. A source here is a list of records that remembers what was
// committed and checkpointed.

const ARRIVAL = new Date(Date.UTC(2026, 10, 23, 10, 15, 30));
const clock = { now: () => ARRIVAL.getTime(), setTimeout: () => 0, clearTimeout: () => {} };
const utf8 = new TextEncoder();

function fakeSource(lines: string[]) {
  const committed: string[] = [];
  let checkpoints = 0;
  const records: KinesisSourceRecord[] = lines.map((line, i) => ({
    data: utf8.encode(`${line}\n`),
    partitionKey: 'k',
    sequenceNumber: String(i + 1),
    shardId: 'shardId-000000000000',
    arrivalTime: ARRIVAL,
  }));
  const source = {
    streamName: 'clicks',
    commit: (record: KinesisSourceRecord) => void committed.push(record.sequenceNumber),
    checkpoint: async () => void checkpoints++,
    async *[Symbol.asyncIterator]() {
      yield* records;
    },
  };
  return {
    source: source as unknown as KinesisSource,
    committed,
    checkpoints: () => checkpoints,
  };
}

async function objects(storage: MemoryStorage): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const object of storage.list('')) {
    out.set(object.key, new TextDecoder().decode(await storage.getBytes(object.key)));
  }
  return out;
}

describe('deliverToLake', () => {
  describe('options', () => {
    it('has no default prefix: a delivery without one is refused with DeliverToLakeError', async () => {
      const { source } = fakeSource([]);

      const error = await deliverToLake({ source, storage: new MemoryStorage() } as never).catch(
        (err: unknown) => err,
      );

      expect(error).toBeInstanceOf(DeliverToLakeError);
      expect(error).toBeInstanceOf(OptionsError);
      expect((error as DeliverToLakeError).code).toBe('DELIVER_TO_LAKE_OPTIONS_INVALID');
      expect((error as DeliverToLakeError).context.option).toBe('prefix');
    });

    it("refuses wrong options with core's OptionsError (DELIVER_TO_LAKE_OPTIONS_INVALID) naming each", async () => {
      const { source } = fakeSource([]);
      const storage = new MemoryStorage();
      const cases: [Record<string, unknown>, string][] = [
        [{ source: {} }, 'source'],
        [{ storage: {} }, 'storage'],
        [{ bufferIntervalMs: -1 }, 'bufferIntervalMs'],
        [{ bufferIntervalMs: 2 ** 31 }, 'bufferIntervalMs'],
        [{ bufferBytes: 0 }, 'bufferBytes'],
        [{ retry: 3 }, 'retry'],
        [{ onEvent: 'log' }, 'onEvent'],
        // A clock without timers (the `{ now, sleep }` shape of old) is not a Clock.
        [{ clock: { now: () => 0, sleep: async () => {} } }, 'clock'],
      ];

      for (const [options, option] of cases) {
        const error = await deliverToLake({ source, storage, prefix: 'clicks/', ...options } as never).catch(
          (err: unknown) => err,
        );
        expect(error, option).toBeInstanceOf(OptionsError);
        expect((error as OptionsError).code).toBe('DELIVER_TO_LAKE_OPTIONS_INVALID');
        expect((error as OptionsError).option).toBe(option);
      }
    });
  });

  describe('delivery', () => {
    it('delivers any JSON records under the given prefix, checking no schema, and checkpoints them', async () => {
      const storage = new MemoryStorage();
      const { source, committed, checkpoints } = fakeSource(['{"page":"/home"}', '{"page":"/cart","at":2}']);

      const stats = await deliverToLake({ source, storage, prefix: 'clicks/', clock, randomUUID: () => 'u' });

      const written = await objects(storage);
      expect([...written.keys()]).toEqual(['clicks/2026/11/23/10/clicks-2026-11-23-10-15-30-u.ndjson']);
      expect([...written.values()]).toEqual(['{"page":"/home"}\n{"page":"/cart","at":2}\n']);
      expect(stats).toMatchObject({ recordsDelivered: 2, recordsFailed: 0 });
      expect(committed).toContain('2');
      expect(checkpoints()).toBeGreaterThan(0);
    });

    it('sends records that fail the schema it is given to errors/<prefix>', async () => {
      const storage = new MemoryStorage();
      const clickSchema = defineSchema({ page: field.string() });
      const { source } = fakeSource(['{"page":"/home"}', '{"page":42}']);

      const stats = await deliverToLake({
        source,
        storage,
        prefix: 'clicks/',
        schema: clickSchema,
        clock,
        randomUUID: () => 'u',
      });

      const keys = [...(await objects(storage)).keys()];
      expect(stats).toMatchObject({ recordsDelivered: 1, recordsFailed: 1 });
      expect(keys.filter((key) => key.startsWith('clicks/'))).toHaveLength(1);
      expect(
        keys.filter((key) => key.startsWith('errors/clicks/validation-failed/2026/11/23/10/')),
      ).toHaveLength(1);
    });
  });
  describe('flushes', () => {
    it('reports a flush cut by bufferBytes as size, not manual', async () => {
      const storage = new MemoryStorage();
      const { source } = fakeSource(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']);
      const events: TributaryEvent[] = [];

      await deliverToLake({
        source,
        storage,
        prefix: 'clicks/',
        bufferBytes: 20, // two 8-byte lines; the third does not fit
        clock,
        randomUUID: () => 'u',
        onEvent: (event) => void events.push(event),
      });

      const reasons = events.flatMap((event) => (event.type === 'flush' ? [event.reason] : []));
      expect(reasons).toEqual(['size', 'close']);
    });

    it('reports a flush cut by bufferIntervalMs as interval, and checkpoints it', async () => {
      const storage = new MemoryStorage();
      const timers: (() => void)[] = [];
      const fakeClock = {
        now: () => ARRIVAL.getTime(),
        // Only timers of the buffer interval: a timer set for longer would never fire in this run.
        setTimeout: (fn: () => void, ms: number) => (ms === 1_000 ? timers.push(fn) : 0),
        clearTimeout: () => {},
      };
      const events: TributaryEvent[] = [];
      const committedAtCheckpoint: string[][] = [];
      const committed: string[] = [];
      const record = (n: number): KinesisSourceRecord => ({
        data: utf8.encode(`{"n":${n}}\n`),
        partitionKey: 'k',
        sequenceNumber: String(n),
        shardId: 'shardId-000000000000',
        arrivalTime: ARRIVAL,
      });
      const source = {
        streamName: 'clicks',
        commit: (r: KinesisSourceRecord) => void committed.push(r.sequenceNumber),
        checkpoint: async () => void committedAtCheckpoint.push([...committed]),
        async *[Symbol.asyncIterator]() {
          yield record(1);
          // The interval passes before the next record comes.
          for (let i = 0; i < 20 && timers.length === 0; i++) await new Promise((r) => setImmediate(r));
          for (const fire of timers.splice(0)) fire();
          for (let i = 0; i < 20 && committedAtCheckpoint.length === 0; i++) {
            await new Promise((r) => setImmediate(r));
          }
          yield record(2);
        },
      } as unknown as KinesisSource;

      await deliverToLake({
        source,
        storage,
        prefix: 'clicks/',
        bufferIntervalMs: 1_000,
        clock: fakeClock,
        randomUUID: () => 'u',
        onEvent: (event) => void events.push(event),
      });

      const reasons = events.flatMap((event) => (event.type === 'flush' ? [event.reason] : []));
      expect(reasons).toEqual(['interval', 'close']);
      expect(committedAtCheckpoint[0]).toEqual(['1']);
    });
  });

  describe('checkpoints', () => {
    it('holds back the checkpoints of later flushes while an earlier failed flush is kept', async () => {
      // The first object put fails once; the records of later flushes are committed only once it is stored.
      const stored = new Set<string>();
      let puts = 0;
      class FlakyStorage extends MemoryStorage {
        override async put(key: string, body: Body, options?: PutOptions): Promise<ObjectInfo> {
          puts++;
          if (puts === 1) throw Object.assign(new Error('slow down'), { name: 'SlowDown' });
          const info = await super.put(key, body, options);
          for (const line of new TextDecoder().decode(body as Uint8Array).split('\n')) {
            if (line !== '') stored.add(String((JSON.parse(line) as { n: number }).n));
          }
          return info;
        }
      }
      const storage = new FlakyStorage();
      const { source, committed } = fakeSource(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}']);
      const notStoredAtCommit: string[] = [];
      const commit = source.commit.bind(source);
      (source as { commit: (r: KinesisSourceRecord) => void }).commit = (r) => {
        if (!stored.has(String(Number(r.sequenceNumber)))) notStoredAtCommit.push(r.sequenceNumber);
        commit(r);
      };

      const stats = await deliverToLake({
        source,
        storage,
        prefix: 'clicks/',
        bufferBytes: 8, // one record per object
        retry: { maxAttempts: 5, baseDelayMs: 0, maxDelayMs: 0 },
        clock,
        randomUUID: () => `u${puts}`,
      });

      expect(stats).toMatchObject({ recordsDelivered: 5, recordsPending: 0 });
      expect(notStoredAtCommit).toEqual([]);
      expect(committed).toContain('5');
    });

    it('leaves retrying an object put to the storage: a failed flush is kept and tried again at the next one', async () => {
      let puts = 0;
      class FlakyStorage extends MemoryStorage {
        override async put(key: string, body: Body, options?: PutOptions) {
          puts++;
          if (puts === 1) throw Object.assign(new Error('slow down'), { name: 'SlowDown' });
          return super.put(key, body, options);
        }
      }
      const { source, committed } = fakeSource(['{"n":1}']);

      const stats = await deliverToLake({
        source,
        storage: new FlakyStorage(),
        prefix: 'clicks/',
        retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
        clock,
        randomUUID: () => 'u',
      });

      expect(puts).toBe(2);
      expect(stats).toMatchObject({ recordsDelivered: 1, failedFlushes: 1 });
      expect(committed).toEqual(['1']);
    });
  });
});

import { defineSchema, field } from '@tributary/core';
import { MemoryStorage } from '@tributary/lake';
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
      expect((error as DeliverToLakeError).code).toBe('DELIVER_TO_LAKE_INVALID');
      expect((error as DeliverToLakeError).context.option).toBe('prefix');
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
});

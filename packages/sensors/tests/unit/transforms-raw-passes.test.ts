import type { Readable } from 'node:stream';
import {
  byField,
  type GetOptions,
  MemoryStorage,
  type ObjectInfo,
  type PutOptions,
  parsePartitions,
  readDataset,
  readManifest,
} from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { type SensorRecord, sensorRecordSchema } from '../../src/record.js';
import { rawToProcessed, sensorErrorSchema } from '../../src/transforms/raw-to-processed.js';

/** A MemoryStorage that counts the reads of each object, and can refuse writes under a prefix. */
class WatchedStorage extends MemoryStorage {
  readonly reads = new Map<string, number>();
  refusePrefix: string | undefined;

  override async get(key: string, options?: GetOptions): Promise<Readable> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return super.get(key, options);
  }

  override async put(
    key: string,
    body: Parameters<MemoryStorage['put']>[1],
    options?: PutOptions,
  ): Promise<ObjectInfo> {
    if (this.refusePrefix !== undefined && key.startsWith(this.refusePrefix)) {
      throw new Error(`refused: ${key}`);
    }
    return super.put(key, body, options);
  }
}

const line = (id: string, timestamp: string, value: number) =>
  JSON.stringify({ id, sensorId: id.split(':')[0], type: 'temperature', value, unit: '°C', timestamp });

const FOLDER_10 = 'sensors/2026/11/23/10/part-a.ndjson';
const FOLDER_11 = 'sensors/2026/11/23/11/part-b.ndjson';

async function processedRows(processed: MemoryStorage): Promise<SensorRecord[]> {
  const manifest = await readManifest(processed, 'sensors');
  const rows: SensorRecord[] = [];
  for (const partition of new Set(manifest?.files.map((f) => f.partition))) {
    const { dt, hour } = parsePartitions(`${partition}file`);
    for await (const record of readDataset({
      storage: processed,
      table: 'sensors',
      schema: sensorRecordSchema,
      partitions: { dt: dt as string, hour: hour as string },
    })) {
      rows.push(record);
    }
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

async function errorCount(processed: MemoryStorage): Promise<number> {
  let n = 0;
  for await (const _ of readDataset({
    storage: processed,
    table: 'sensors_errors',
    schema: sensorErrorSchema,
    partitionBy: [byField('dt')],
  })) {
    n++;
  }
  return n;
}

async function keysOf(storage: MemoryStorage): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list('')) keys.push(object.key);
  return keys;
}

describe('rawToProcessed', () => {
  describe('passes over the raw zone', () => {
    it('reads each raw object of a day once when no later copy of an id is earlier in event time', async () => {
      // Arrange: copies at the same event time, a late record, a bad line.
      const raw = new WatchedStorage();
      await raw.put(
        FOLDER_10,
        [
          line('t-1:0', '2026-11-23T10:00:00.000Z', 1),
          line('t-1:1', '2026-11-23T10:10:00.000Z', 2),
          line('t-1:1', '2026-11-23T10:10:00.000Z', 2),
          'not json',
        ].join('\n'),
      );
      await raw.put(
        FOLDER_11,
        [line('t-1:1', '2026-11-23T10:10:00.000Z', 2), line('t-1:2', '2026-11-23T10:59:00.000Z', 3)].join(
          '\n',
        ),
      );
      const processed = new MemoryStorage();

      // Act
      const stats = await rawToProcessed({ raw, processed, dates: ['2026-11-23'] });

      // Assert
      expect(Object.fromEntries(raw.reads)).toEqual({ [FOLDER_10]: 1, [FOLDER_11]: 1 });
      expect(stats).toMatchObject({ read: 6, valid: 5, invalid: 1, duplicates: 2, written: 3 });
      expect((await processedRows(processed)).map((r) => r.id)).toEqual(['t-1:0', 't-1:1', 't-1:2']);
      expect(await errorCount(processed)).toBe(1);
    });

    it('keeps a later, earlier-in-time copy of a written id by reading the day again, and leaves nothing of the first write', async () => {
      // Arrange: t-1:1 written from folder 10, then a copy 5 minutes earlier in folder 11.
      const raw = new WatchedStorage();
      await raw.put(
        FOLDER_10,
        [
          line('t-1:0', '2026-11-23T10:00:00.000Z', 1),
          line('t-1:1', '2026-11-23T10:10:00.000Z', 2),
          'bad',
        ].join('\n'),
      );
      await raw.put(FOLDER_11, line('t-1:1', '2026-11-23T10:05:00.000Z', 9));
      const processed = new MemoryStorage();

      // Act
      const stats = await rawToProcessed({ raw, processed, dates: ['2026-11-23'] });

      // Assert
      expect(stats).toMatchObject({ read: 4, valid: 3, invalid: 1, duplicates: 1, written: 2 });
      const rows = await processedRows(processed);
      expect(rows.map((r) => [r.id, r.value, r.timestamp.toISOString()])).toEqual([
        ['t-1:0', 1, '2026-11-23T10:00:00.000Z'],
        ['t-1:1', 9, '2026-11-23T10:05:00.000Z'],
      ]);
      expect(await errorCount(processed)).toBe(1);
      const manifest = await readManifest(processed, 'sensors');
      const tableKeys = (await keysOf(processed)).filter((k) => k.startsWith('sensors/dt='));
      expect(tableKeys.sort()).toEqual(manifest?.files.map((f) => f.key).sort());
      expect((await keysOf(processed)).filter((k) => k.includes('_staging/'))).toEqual([]);
    });

    it('hands thousands of error rows to the errors table while the records are written', async () => {
      // Arrange: 3,000 bad lines between records, more than wait for the errors table's writer.
      const raw = new WatchedStorage();
      const lines: string[] = [];
      for (let i = 0; i < 3_000; i++) {
        lines.push(`bad ${i}`, line(`t-1:${i}`, '2026-11-23T10:00:00.000Z', i));
      }
      await raw.put(FOLDER_10, lines.join('\n'));
      const processed = new MemoryStorage();

      // Act
      const stats = await rawToProcessed({ raw, processed, dates: ['2026-11-23'] });

      // Assert
      expect(stats).toMatchObject({ read: 6_000, invalid: 3_000, written: 3_000 });
      expect(await errorCount(processed)).toBe(3_000);
      expect(await processedRows(processed)).toHaveLength(3_000);
    });

    it('fails, without waiting forever, when the errors table cannot be written', async () => {
      // Arrange
      const raw = new WatchedStorage();
      const lines: string[] = [];
      for (let i = 0; i < 3_000; i++) lines.push(`bad ${i}`, line(`t-1:${i}`, '2026-11-23T10:00:00.000Z', i));
      await raw.put(FOLDER_10, lines.join('\n'));
      const processed = new WatchedStorage();
      processed.refusePrefix = '_tributary/sensors_errors/';

      // Act
      const run = rawToProcessed({ raw, processed, dates: ['2026-11-23'] });

      // Assert
      await expect(run).rejects.toThrow(/refused/);
      expect(await readManifest(processed, 'sensors_errors')).toBeUndefined();
    });
  });
});

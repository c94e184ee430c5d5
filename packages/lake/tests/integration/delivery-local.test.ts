import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { defineSchema, field, type TributaryEvent } from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDelivery, type DeliveryRecord } from '../../src/delivery.js';
import { LocalStorage } from '../../src/local-storage.js';

const TYPES = ['power_factor', 'temperature', 'hydraulic_pressure'] as const;
const COUNT = 10_000;
const INVALID_EVERY = 1_000;
// Arrivals span 10:58:20 to 11:01:40 UTC, so objects land under two hour folders.
const START = Date.UTC(2026, 10, 23, 10, 58, 20);

const readingSchema = defineSchema({
  id: field.string(),
  sensorId: field.string(),
  type: field.string(),
  value: field.double(),
  timestamp: field.timestamp(),
});

async function* arrivals(): AsyncIterable<DeliveryRecord> {
  for (let i = 0; i < COUNT; i++) {
    const arrivalTime = START + i * 20;
    // Every INVALID_EVERY-th record fails the schema, as Kinesis bytes like the rest.
    const value = i % INVALID_EVERY === 0 ? 'NaN' : Math.round(Math.sin(i) * 1000) / 10;
    const reading = {
      id: `r-${i}`,
      sensorId: `s-${i % 25}`,
      type: TYPES[i % 3],
      value,
      timestamp: new Date(arrivalTime).toISOString(),
    };
    yield { data: Buffer.from(JSON.stringify(reading)), arrivalTime };
  }
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('Delivery', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-delivery-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('consume', () => {
    it('delivers 10,000 readings of 3 sensor types into gzip NDJSON files under the hour of their oldest record', async () => {
      const storage = new LocalStorage({ root });
      const events: TributaryEvent[] = [];
      const delivery = createDelivery({
        storage,
        prefix: 'sensors/',
        streamName: 'sensors',
        compression: 'gzip',
        bufferBytes: 128 * 1024,
        schema: readingSchema,
        onEvent: (event) => events.push(event),
      });

      const stats = await delivery.consume(arrivals());

      const invalid = COUNT / INVALID_EVERY;
      expect(stats).toMatchObject({
        recordsIn: COUNT,
        recordsDelivered: COUNT - invalid,
        recordsFailed: invalid,
        recordsPending: 0,
        failedFlushes: 0,
      });
      expect(stats.objects).toBeGreaterThan(3);

      const dataFiles = await filesUnder(join(root, 'sensors'));
      expect(dataFiles).toHaveLength(stats.objects);
      const ids = new Set<string>();
      const types = new Set<string>();
      for (const file of dataFiles) {
        const relativeKey = file
          .slice(root.length + 1)
          .split('\\')
          .join('/');
        const match =
          /^sensors\/2026\/11\/23\/(\d\d)\/sensors-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[-0-9a-f]{36}\.ndjson\.gz$/.exec(
            relativeKey,
          );
        expect(match, relativeKey).not.toBeNull();
        const lines = gunzipSync(await readFile(file))
          .toString('utf8')
          .trimEnd()
          .split('\n');
        const records = lines.map(
          (line) => JSON.parse(line) as { id: string; type: string; timestamp: string },
        );
        const oldest = Math.min(...records.map((r) => Date.parse(r.timestamp)));
        expect(new Date(oldest).getUTCHours()).toBe(Number(match?.[1]));
        for (const record of records) {
          ids.add(record.id);
          types.add(record.type);
        }
      }
      expect(ids.size).toBe(COUNT - invalid);
      expect([...types].sort()).toEqual([...TYPES].sort());
      const hours = new Set(dataFiles.map((f) => f.split(/[\\/]/).at(-2)));
      expect([...hours].sort()).toEqual(['10', '11']);

      const errorFiles = await filesUnder(join(root, 'errors', 'sensors', 'validation-failed'));
      const errors = [];
      for (const file of errorFiles) {
        errors.push(
          ...gunzipSync(await readFile(file))
            .toString('utf8')
            .trimEnd()
            .split('\n')
            .map((l) => JSON.parse(l)),
        );
      }
      expect(errors).toHaveLength(invalid);
      expect(errors.map((e) => JSON.parse(Buffer.from(e.rawData, 'base64').toString()).id).sort()).toEqual(
        Array.from({ length: invalid }, (_, k) => `r-${k * INVALID_EVERY}`).sort(),
      );

      const flushed = events.filter((e) => e.type === 'flush');
      expect(flushed.map((e) => e.target).sort()).toEqual(
        (await filesUnder(root))
          .map((f) =>
            f
              .slice(root.length + 1)
              .split('\\')
              .join('/'),
          )
          .sort(),
      );
    });
  });
});

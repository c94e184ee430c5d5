// The sensor transforms writing Iceberg tables: the same rows as the hive tables from the same raw
// zone, tables that pyiceberg (software we did not write) reads with the same counts and specs,
// reruns that change nothing, and a curated step that reads one processed snapshot.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Fields, OptionsError, type Schema } from '@tributary/core';
import {
  byHour,
  createDelivery,
  type DeliveryRecord,
  LocalStorage,
  readDataset,
  type Storage,
  scanIceberg,
  writeDataset,
} from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curatedHourlySchema } from '../../src/curated-schema.js';
import { generateRecords } from '../../src/fleet.js';
import { type SensorRecord, sensorRecordSchema } from '../../src/record.js';
import { processedToCurated } from '../../src/transforms/processed-to-curated.js';
import {
  type RawToProcessedStats,
  rawToProcessed,
  sensorErrorSchema,
} from '../../src/transforms/raw-to-processed.js';

const PYTHON = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../spark/.venv/bin/python');
const COUNT = 6_000;
const START = Date.UTC(2026, 10, 23, 22);

let folder: string;
let raw: LocalStorage;
const zones = {} as Record<'hive' | 'iceberg', { processed: LocalStorage; curated: LocalStorage }>;
const rawStats = {} as Record<'hive' | 'iceberg', RawToProcessedStats>;
let records: SensorRecord[];

function* arrivals(): Iterable<DeliveryRecord> {
  for (const [j, record] of records.entries()) {
    yield { data: record, arrivalTime: record.timestamp.getTime() + ((j * 7_919) % 90_000) };
    // Every 40th record is delivered twice (a producer retry).
    if (j % 40 === 0) yield { data: record, arrivalTime: record.timestamp.getTime() + 200_000 };
  }
}

async function rows<F extends Fields>(
  storage: Storage,
  table: string,
  schema: Schema<F>,
  format: 'hive' | 'iceberg',
  snapshotId?: string,
): Promise<string[]> {
  const out: string[] = [];
  for await (const row of readDataset({
    storage,
    table,
    schema,
    tableFormat: format,
    ...(snapshotId ? { snapshotId } : {}),
  })) {
    out.push(JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  }
  return out.sort();
}

/** What pyiceberg says of a table: rows at the current snapshot, the spec, snapshot count. */
async function pyiceberg(root: string, table: string) {
  const script = `
import json, sys, os
from pyiceberg.table import StaticTable
root = sys.argv[1]
hint = open(os.path.join(root, 'metadata', 'version-hint.text')).read().strip()
t = StaticTable.from_metadata('file://' + os.path.join(root, 'metadata', f'v{hint}.metadata.json'))
arrow = t.scan().to_arrow()
print(json.dumps({
  'rows': arrow.num_rows,
  'spec': [[f.name, str(f.transform)] for f in t.spec().fields],
  'snapshots': len(t.metadata.snapshots),
  'columns': arrow.column_names,
}))
`;
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', script, join(root, table)]);
  return JSON.parse(stdout) as { rows: number; spec: string[][]; snapshots: number; columns: string[] };
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tributary-transforms-iceberg-'));
  raw = new LocalStorage({ root: join(folder, 'raw') });
  records = [
    ...generateRecords({ sensorsPerType: 2, ratePerSecond: 1, seed: 7, start: START, records: COUNT }),
  ];
  const delivery = createDelivery({
    storage: raw,
    prefix: 'sensors/',
    streamName: 'sensors',
    bufferBytes: 32 * 1024,
  });
  await delivery.consume(arrivals());
  // Lines that are not records go to the errors table.
  await raw.put('sensors/2026/11/23/22/bad-lines', 'not json\n{"id":"x"}\n');
  for (const format of ['hive', 'iceberg'] as const) {
    zones[format] = {
      processed: new LocalStorage({ root: join(folder, format, 'processed') }),
      curated: new LocalStorage({ root: join(folder, format, 'curated') }),
    };
    const { processed, curated } = zones[format];
    rawStats[format] = await rawToProcessed({ raw, processed, tableFormat: format });
    await processedToCurated({ processed, curated, tableFormat: format });
  }
}, 120_000);

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('sensor transforms with tableFormat iceberg', () => {
  it('writes the same processed, errors and curated rows as the hive tables', async () => {
    const tables: ['processed' | 'curated', string, Schema<Fields>][] = [
      ['processed', 'sensors', sensorRecordSchema as unknown as Schema<Fields>],
      ['processed', 'sensors_errors', sensorErrorSchema as unknown as Schema<Fields>],
      ['curated', 'sensor_hourly', curatedHourlySchema as unknown as Schema<Fields>],
    ];
    for (const [zone, table, schema] of tables) {
      const hive = await rows(zones.hive[zone], table, schema, 'hive');
      const iceberg = await rows(zones.iceberg[zone], table, schema, 'iceberg');
      expect(iceberg.length, table).toBeGreaterThan(0);
      expect(iceberg, table).toEqual(hive);
    }
    expect(rawStats.iceberg.written).toBe(COUNT);
    expect(rawStats.iceberg.invalid).toBe(2);
    expect(
      rawStats.iceberg.partitions.every((p) => /^timestamp_hour=\d{4}-\d{2}-\d{2}-\d{2}\/$/.test(p)),
    ).toBe(true);
    expect(rawStats.iceberg.partitions.length).toBe(rawStats.hive.partitions.length);
  });

  it.skipIf(!existsSync(PYTHON))(
    'leaves tables pyiceberg reads with the same counts and partition specs',
    async () => {
      const processed = await pyiceberg(join(folder, 'iceberg', 'processed'), 'sensors');
      const errors = await pyiceberg(join(folder, 'iceberg', 'processed'), 'sensors_errors');
      const curated = await pyiceberg(join(folder, 'iceberg', 'curated'), 'sensor_hourly');
      const curatedRows = (await rows(zones.hive.curated, 'sensor_hourly', curatedHourlySchema, 'hive'))
        .length;

      expect(processed).toMatchObject({ rows: COUNT, spec: [['timestamp_hour', 'hour']] });
      // One overwrite_partitions snapshot per UTC day of event time written.
      expect(processed.snapshots).toBe(
        new Set(records.map((r) => r.timestamp.toISOString().slice(0, 10))).size,
      );
      expect(errors).toMatchObject({ rows: 2, spec: [['dt', 'identity']] });
      expect(curated).toMatchObject({ rows: curatedRows, spec: [['dt', 'identity']] });
    },
  );

  it('commits nothing when run again on the same input, and keeps the rows', async () => {
    const { processed, curated } = zones.iceberg;
    const before = await scanIceberg({ storage: processed, table: 'sensors' });
    const curatedBefore = await scanIceberg({ storage: curated, table: 'sensor_hourly' });

    await rawToProcessed({ raw, processed, tableFormat: 'iceberg' });
    await processedToCurated({ processed, curated, tableFormat: 'iceberg' });

    const after = await scanIceberg({ storage: processed, table: 'sensors' });
    const curatedAfter = await scanIceberg({ storage: curated, table: 'sensor_hourly' });
    expect(after.metadata.snapshots.length).toBe(before.metadata.snapshots.length);
    expect(String(after.snapshot?.['snapshot-id'])).toBe(String(before.snapshot?.['snapshot-id']));
    expect(curatedAfter.metadata.snapshots.length).toBe(curatedBefore.metadata.snapshots.length);
    expect((await rows(processed, 'sensors', sensorRecordSchema, 'iceberg')).length).toBe(COUNT);
  });

  it('aggregates one processed snapshot even when another commit lands during the run', async () => {
    const processed = new LocalStorage({ root: join(folder, 'pinned', 'processed') });
    const curated = new LocalStorage({ root: join(folder, 'pinned', 'curated') });
    await rawToProcessed({ raw, processed, tableFormat: 'iceberg' });
    const pinned = await scanIceberg({ storage: processed, table: 'sensors' });
    // A storage that appends more records to the processed table at the first data file read.
    let appended = false;
    const racing = new Proxy(processed, {
      get(target, property) {
        if (property === 'get' || property === 'getBytes') {
          return async (key: string, ...rest: unknown[]) => {
            if (!appended && key.includes('/data/')) {
              appended = true;
              const extra = records.slice(-500).map((r) => ({ ...r, id: `${r.id}-late` }));
              await writeDataset(extra, {
                storage: processed,
                table: 'sensors',
                schema: sensorRecordSchema,
                partitionBy: byHour('timestamp'),
                tableFormat: 'iceberg',
                mode: 'append',
              });
            }
            return (target[property] as (...a: unknown[]) => unknown).call(target, key, ...rest);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Storage;

    const stats = await processedToCurated({ processed: racing, curated, tableFormat: 'iceberg' });

    expect(appended).toBe(true);
    expect(stats.snapshotId).toBe(String(pinned.snapshot?.['snapshot-id']));
    expect(stats.records).toBe(COUNT);
    const now = await scanIceberg({ storage: processed, table: 'sensors' });
    expect(now.files.reduce((n, f) => n + f.rows, 0)).toBe(COUNT + 500);
  });

  it('aggregates nothing when the Iceberg processed table does not exist yet', async () => {
    const processed = new LocalStorage({ root: join(folder, 'empty', 'processed') });
    const curated = new LocalStorage({ root: join(folder, 'empty', 'curated') });

    const stats = await processedToCurated({ processed, curated, tableFormat: 'iceberg' });

    expect(stats).toMatchObject({ dates: [], records: 0, rows: 0 });
  });

  it('refuses an unknown table format and a catalog without Iceberg, naming the option', async () => {
    const { processed, curated } = zones.iceberg;
    const bad = rawToProcessed({ raw, processed, tableFormat: 'delta' as 'hive' });
    await expect(bad).rejects.toBeInstanceOf(OptionsError);
    await expect(bad).rejects.toMatchObject({
      code: 'SENSOR_TRANSFORM_OPTIONS_INVALID',
      context: { option: 'tableFormat' },
    });
    const catalog = { load: async () => undefined, commit: async () => undefined } as never;
    await expect(processedToCurated({ processed, curated, catalog })).rejects.toMatchObject({
      code: 'SENSOR_TRANSFORM_OPTIONS_INVALID',
      context: { option: 'catalog' },
    });
    // The processed table's catalog is named as itself, not as the curated one.
    await expect(processedToCurated({ processed, curated, processedCatalog: catalog })).rejects.toMatchObject(
      {
        code: 'SENSOR_TRANSFORM_OPTIONS_INVALID',
        context: { option: 'processedCatalog' },
      },
    );
  });
});

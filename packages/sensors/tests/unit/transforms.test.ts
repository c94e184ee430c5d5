import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { TributaryEvent } from '@tributary/core';
import {
  byField,
  byHour,
  MemoryStorage,
  parsePartitions,
  readDataset,
  readManifest,
  StorageCatalog,
  writeDataset,
} from '@tributary/lake';
import { describe, expect, it } from 'vitest';
import { type CuratedHourlyRow, curatedHourlySchema } from '../../src/curated-schema.js';
import { defaultSensorTypes } from '../../src/models.js';
import { type SensorRecord, sensorRecordSchema } from '../../src/record.js';
import { defineSensorType } from '../../src/sensor-type.js';
import { processedToCurated } from '../../src/transforms/processed-to-curated.js';
import {
  rawToProcessed,
  type SensorErrorRow,
  sensorErrorSchema,
} from '../../src/transforms/raw-to-processed.js';
import { SensorTransformError } from '../../src/transforms/shared.js';

/** A MemoryStorage whose reads come in chunks of `size` bytes, as a network or file stream cuts them. */
class ChunkedStorage extends MemoryStorage {
  constructor(private readonly size: number) {
    super();
  }

  override async get(key: string): Promise<Readable> {
    const bytes = await this.getBytes(key);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += this.size) chunks.push(bytes.slice(at, at + this.size));
    return Readable.from(chunks);
  }
}

function reading(id: string, timestamp: string, value: number, type = 'temperature', unit = '°C') {
  return { id, sensorId: id.split(':')[0], type, value, unit, timestamp };
}

const line = (value: unknown) => JSON.stringify(value);
const BAD_JSON = '{"id":"t-1:9","sensorId":"t-1",';
const BAD_RECORD = line({ ...reading('t-1:8', '2026-11-23T10:02:00.000Z', 0), value: 'hot' });

const FILE_A = 'sensors/2026/11/23/10/sensors-2026-11-23-10-00-00-aaaa.ndjson';
const FILE_B = 'sensors/2026/11/23/10/sensors-2026-11-23-10-05-00-bbbb.ndjson.gz';
const FILE_C = 'sensors/2026/11/23/11/sensors-2026-11-23-11-00-30-cccc.ndjson';
const FILE_D = 'sensors/2026/11/24/00/sensors-2026-11-24-00-00-40-dddd.ndjson';

/**
 * Four raw objects as the delivery writes them (folders by arrival hour), with duplicates
 * within an object, across objects and across hours, a line that is not JSON, a line that fails
 * the schema, records that arrived an hour late (10:59:59 in folder 11; 23:59:30 in the next
 * day's folder) and an id whose second copy has the earlier event time.
 */
async function rawZone(): Promise<MemoryStorage> {
  const raw = new MemoryStorage();
  await raw.put(
    FILE_A,
    [
      line(reading('t-1:0', '2026-11-23T10:00:00.000Z', 20)),
      line(reading('t-1:1', '2026-11-23T10:01:00.000Z', 21)),
      line(reading('t-1:1', '2026-11-23T10:01:00.000Z', 21)),
      BAD_JSON,
      BAD_RECORD,
      line(reading('t-2:0', '2026-11-23T10:30:00.000Z', 5)),
      '',
    ].join('\n'),
  );
  await raw.put(
    FILE_B,
    gzipSync(
      [
        line(reading('t-1:0', '2026-11-23T10:00:00.000Z', 20)),
        line(reading('t-3:0', '2026-11-23T10:40:00.000Z', 7)),
        line(reading('x:9', '2026-11-23T10:20:00.000Z', 2)),
        // Its clock is a little ahead: in folder 10, it belongs to hour 11.
        line(reading('t-5:0', '2026-11-23T11:00:05.000Z', 9)),
      ].join('\r\n'),
    ),
  );
  await raw.put(
    FILE_C,
    `${[
      line(reading('t-2:1', '2026-11-23T10:59:59.000Z', 6)),
      line(reading('t-1:2', '2026-11-23T11:00:10.000Z', 22)),
      line(reading('x:9', '2026-11-23T10:19:00.000Z', 3)),
      line(reading('t-2:0', '2026-11-23T10:30:00.000Z', 5)),
    ].join('\n')}\n`,
  );
  await raw.put(
    FILE_D,
    `${[
      line(reading('t-1:3', '2026-11-23T23:59:30.000Z', 23)),
      line(reading('t-1:4', '2026-11-24T00:00:05.000Z', 24)),
    ].join('\n')}\n`,
  );
  return raw;
}

async function processedRows(processed: MemoryStorage): Promise<(SensorRecord & { partition: string })[]> {
  const manifest = await readManifest(processed, 'sensors');
  const partitions = [...new Set(manifest?.files.map((f) => f.partition))];
  const rows: (SensorRecord & { partition: string })[] = [];
  for (const partition of partitions) {
    const { dt, hour } = parsePartitions(`${partition}file`);
    for await (const record of readDataset({
      storage: processed,
      table: 'sensors',
      schema: sensorRecordSchema,
      partitions: { dt: dt as string, hour: hour as string },
    })) {
      rows.push({ ...record, partition });
    }
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

async function errorRows(processed: MemoryStorage): Promise<SensorErrorRow[]> {
  const rows: SensorErrorRow[] = [];
  for await (const row of readDataset({
    storage: processed,
    table: 'sensors_errors',
    schema: sensorErrorSchema,
    partitionBy: [byField('dt')],
  })) {
    rows.push(row);
  }
  return rows.sort((a, b) => a.key.localeCompare(b.key) || a.line - b.line);
}

describe('rawToProcessed', () => {
  describe('rawToProcessed', () => {
    it('writes each id once, into the dt/hour partition of its event time, and the bad lines to sensors_errors', async () => {
      const raw = await rawZone();
      const processed = new MemoryStorage();

      const stats = await rawToProcessed({ raw, processed });

      expect(stats).toMatchObject({
        files: 4,
        read: 16,
        valid: 14,
        invalid: 2,
        outOfWindow: 0,
        duplicates: 4,
        written: 10,
        partitions: [
          'dt=2026-11-23/hour=10/',
          'dt=2026-11-23/hour=11/',
          'dt=2026-11-23/hour=23/',
          'dt=2026-11-24/hour=00/',
        ],
        errorPartitions: ['dt=2026-11-23/'],
        peakIds: 9,
      });
      const rows = await processedRows(processed);
      expect(rows.map((r) => [r.id, r.partition, r.value, r.timestamp.toISOString()])).toEqual([
        ['t-1:0', 'dt=2026-11-23/hour=10/', 20, '2026-11-23T10:00:00.000Z'],
        ['t-1:1', 'dt=2026-11-23/hour=10/', 21, '2026-11-23T10:01:00.000Z'],
        ['t-1:2', 'dt=2026-11-23/hour=11/', 22, '2026-11-23T11:00:10.000Z'],
        ['t-1:3', 'dt=2026-11-23/hour=23/', 23, '2026-11-23T23:59:30.000Z'],
        ['t-1:4', 'dt=2026-11-24/hour=00/', 24, '2026-11-24T00:00:05.000Z'],
        ['t-2:0', 'dt=2026-11-23/hour=10/', 5, '2026-11-23T10:30:00.000Z'],
        // Arrived in folder 11, belongs to hour 10.
        ['t-2:1', 'dt=2026-11-23/hour=10/', 6, '2026-11-23T10:59:59.000Z'],
        ['t-3:0', 'dt=2026-11-23/hour=10/', 7, '2026-11-23T10:40:00.000Z'],
        ['t-5:0', 'dt=2026-11-23/hour=11/', 9, '2026-11-23T11:00:05.000Z'],
        // The copy with the earlier event time wins, though it comes later in raw key order.
        ['x:9', 'dt=2026-11-23/hour=10/', 3, '2026-11-23T10:19:00.000Z'],
      ]);
      const manifest = await readManifest(processed, 'sensors');
      expect(manifest?.files.reduce((sum, f) => sum + f.rows, 0)).toBe(10);
      expect(manifest?.files.every((f) => f.key.endsWith('.parquet'))).toBe(true);

      const errors = await errorRows(processed);
      expect(errors).toHaveLength(2);
      expect(errors[0]).toMatchObject({
        dt: '2026-11-23',
        key: FILE_A,
        line: 4,
        code: 'INVALID_JSON',
        raw: BAD_JSON,
      });
      expect(errors[0]?.reason).toMatch(/^not JSON: /);
      expect(errors[1]).toMatchObject({
        dt: '2026-11-23',
        key: FILE_A,
        line: 5,
        code: 'INVALID_RECORD',
        raw: BAD_RECORD,
      });
      expect(errors[1]?.reason).toContain('value: expected double');
    });

    it('gives the same files and records when run again on the same input', async () => {
      const raw = await rawZone();
      const processed = new MemoryStorage();
      await rawToProcessed({ raw, processed });
      const firstFiles = (await readManifest(processed, 'sensors'))?.files;
      const firstErrors = (await readManifest(processed, 'sensors_errors'))?.files;
      const firstRows = await processedRows(processed);

      const again = await rawToProcessed({ raw, processed });

      expect(again.written).toBe(10);
      expect((await readManifest(processed, 'sensors'))?.files).toEqual(firstFiles);
      expect((await readManifest(processed, 'sensors_errors'))?.files).toEqual(firstErrors);
      expect(await processedRows(processed)).toEqual(firstRows);
      const keys: string[] = [];
      for await (const object of processed.list('sensors/dt=')) keys.push(object.key);
      expect(keys.sort()).toEqual(firstFiles?.map((f) => f.key).sort());
      expect(await errorRows(processed)).toHaveLength(2);
    });

    it('takes in late records that arrive after a first run, replacing the partitions they belong to', async () => {
      const raw = await rawZone();
      const processed = new MemoryStorage();
      await rawToProcessed({ raw, processed, dates: ['2026-11-23'] });
      await raw.put(
        'sensors/2026/11/23/12/sensors-2026-11-23-12-00-00-eeee.ndjson',
        `${line(reading('t-4:0', '2026-11-23T10:10:00.000Z', 8))}\n`,
      );

      const stats = await rawToProcessed({ raw, processed, dates: ['2026-11-23'] });

      expect(stats.written).toBe(10);
      const rows = await processedRows(processed);
      expect(rows.filter((r) => r.partition === 'dt=2026-11-23/hour=10/').map((r) => r.id)).toEqual([
        't-1:0',
        't-1:1',
        't-2:0',
        't-2:1',
        't-3:0',
        't-4:0',
        'x:9',
      ]);
      expect(rows).toHaveLength(10);
    });

    it('processes only the days asked for, by event time', async () => {
      const raw = await rawZone();
      const processed = new MemoryStorage();

      const stats = await rawToProcessed({ raw, processed, dates: ['2026-11-24'] });

      // t-1:3 is in the 24th's folder but belongs to the 23rd; the bad lines are the 23rd's.
      expect(stats).toMatchObject({ dates: ['2026-11-24'], read: 1, written: 1, invalid: 0 });
      expect((await processedRows(processed)).map((r) => r.id)).toEqual(['t-1:4']);
      expect(await readManifest(processed, 'sensors_errors')).toBeUndefined();
    });

    it('sends records later than maxLatenessHours to the errors table of their folder day, and takes them with a larger window', async () => {
      const raw = new MemoryStorage();
      const late = line(reading('t-9:0', '2026-11-23T10:00:00.000Z', 1));
      await raw.put('sensors/2026/11/24/00/sensors-late.ndjson', `${late}\n`);
      const processed = new MemoryStorage();

      const narrow = await rawToProcessed({ raw, processed, maxLatenessHours: 6 });

      expect(narrow).toMatchObject({ read: 1, valid: 0, invalid: 1, outOfWindow: 1, written: 0 });
      const [error] = await errorRows(processed);
      expect(error).toMatchObject({ dt: '2026-11-24', line: 1, code: 'OUT_OF_WINDOW', raw: late });
      expect(error?.reason).toContain('14 hours before');
      expect(await readManifest(processed, 'sensors')).toBeUndefined();

      const wide = await rawToProcessed({ raw, processed: new MemoryStorage(), maxLatenessHours: 24 });

      expect(wide).toMatchObject({
        read: 1,
        valid: 1,
        invalid: 0,
        written: 1,
        partitions: ['dt=2026-11-23/hour=10/'],
      });
    });

    it('emits records.in, failure and records.out events', async () => {
      const events: TributaryEvent[] = [];

      await rawToProcessed({
        raw: await rawZone(),
        processed: new MemoryStorage(),
        onEvent: (e) => events.push(e),
      });

      const ours = events.filter((e) => e.source === 'sensors:raw-to-processed');
      const total = (type: string) =>
        ours.filter((e) => e.type === type).reduce((sum, e) => sum + ('count' in e ? (e.count ?? 0) : 0), 0);
      expect(total('records.in')).toBe(16);
      expect(total('failure')).toBe(2);
      expect(total('records.out')).toBe(10);
    });

    it('reads no object outside the hour folders, and reports each with why, in its stats and events', async () => {
      const raw = await rawZone();
      const stray = `${line(reading('s-1:0', '2026-11-23T10:00:00.000Z', 1))}\n`;
      const strays = [
        'sensors/x.ndjson',
        'sensors/2026/x.ndjson',
        'sensors/2026/11/x.ndjson',
        'sensors/2026/11/23/x.ndjson',
        'sensors/2026/11/23/late/x.ndjson',
        'sensors/2026/11/23/10/deeper/x.ndjson',
        'sensors/2026/11/23/10/part-0.crc',
        'sensors/2026/13/01/10/x.ndjson',
        'sensors/year=2026/x.ndjson',
      ];
      for (const key of strays) await raw.put(key, stray);
      const processed = new MemoryStorage();
      const events: TributaryEvent[] = [];

      const stats = await rawToProcessed({ raw, processed, onEvent: (e) => events.push(e) });

      // The same as without the strays: none of them is read.
      expect(stats).toMatchObject({ files: 4, read: 16, valid: 14, invalid: 2, written: 10 });
      expect((await processedRows(processed)).map((r) => r.id)).not.toContain('s-1:0');
      expect(stats.unreadObjects.map((o) => o.key)).toEqual([...strays].sort());
      const reasons = new Map(stats.unreadObjects.map((o) => [o.key, o.reason]));
      expect(reasons.get('sensors/x.ndjson')).toBe(
        'not in an hour folder sensors/YYYY/MM/DD/HH/: its arrival hour is unknown',
      );
      expect(reasons.get('sensors/2026/11/x.ndjson')).toBe(reasons.get('sensors/x.ndjson'));
      expect(reasons.get('sensors/2026/11/23/late/x.ndjson')).toBe('folder "late" is not an hour (00-23)');
      expect(reasons.get('sensors/2026/13/01/10/x.ndjson')).toBe('folder "13" is not a month (01-12)');
      expect(reasons.get('sensors/year=2026/x.ndjson')).toBe('folder "year=2026" is not a year (YYYY)');
      expect(reasons.get('sensors/2026/11/23/10/deeper/x.ndjson')).toBe(
        'in a folder below the hour folder sensors/2026/11/23/10/',
      );
      expect(reasons.get('sensors/2026/11/23/10/part-0.crc')).toContain('not NDJSON: extension ".crc"');
      const unread = events.filter(
        (e): e is Extract<TributaryEvent, { type: 'failure' }> =>
          e.type === 'failure' && e.code === 'SENSOR_RAW_OBJECT_UNREAD',
      );
      expect(unread.map((e) => e.count)).toEqual(strays.map(() => 1));
      expect(unread.map((e) => (e.error as SensorTransformError).context.key).sort()).toEqual(
        [...strays].sort(),
      );
      expect(unread[0]?.error).toBeInstanceOf(SensorTransformError);
    });

    it("reads Firehose's own names without an extension, and .jsonl, .json and .gz objects", async () => {
      const raw = new MemoryStorage();
      const names = [
        'my.stream-1-2026-11-23-10-00-00-0a1b2c3d-aaaa-bbbb-cccc-ddddeeeeffff',
        'my.stream-1-2026-11-23-10-01-00-0a1b2c3d-aaaa-bbbb-cccc-ddddeeeeffff.gz',
        'part-2.jsonl',
        'part-3.JSON.gz',
      ];
      for (const [i, name] of names.entries()) {
        const text = `${line(reading(`t-${i}:0`, '2026-11-23T10:00:00.000Z', i))}\n`;
        await raw.put(`sensors/2026/11/23/10/${name}`, name.endsWith('.gz') ? gzipSync(text) : text);
      }

      const stats = await rawToProcessed({ raw, processed: new MemoryStorage() });

      expect(stats).toMatchObject({
        files: 4,
        written: 4,
        invalid: 0,
        unreadObjects: [],
        ignoredObjects: [],
      });
    });

    it('reports the objects beside the folders of the days asked for', async () => {
      const raw = await rawZone();
      await raw.put('sensors/x.ndjson', '{}\n');
      await raw.put('sensors/2026/11/x.ndjson', '{}\n');
      await raw.put('sensors/2026/12/x.ndjson', '{}\n');

      const stats = await rawToProcessed({ raw, processed: new MemoryStorage(), dates: ['2026-11-24'] });

      // December's folder is not looked at for a day of November.
      expect(stats.unreadObjects.map((o) => o.key)).toEqual(['sensors/2026/11/x.ndjson', 'sensors/x.ndjson']);
      expect(stats).toMatchObject({ read: 1, written: 1 });
    });

    it('ignores, by name, objects and folders whose name starts with "_" or ".", and lists them', async () => {
      const raw = await rawZone();
      await raw.put('sensors/2026/11/23/10/_SUCCESS', '');
      await raw.put('sensors/2026/11/23/10/.part-0.ndjson.crc', Uint8Array.of(1, 2, 3, 4));
      await raw.put('sensors/_temporary/0/task/x.ndjson', '{}\n');
      await raw.put('sensors/2026/11/_temporary/a.ndjson', '{}\n');
      await raw.put('sensors/2026/11/23/11/_tmp/a.ndjson', '{}\n');
      const events: TributaryEvent[] = [];

      const stats = await rawToProcessed({
        raw,
        processed: new MemoryStorage(),
        onEvent: (e) => events.push(e),
      });

      expect(stats.ignoredObjects).toEqual([
        'sensors/2026/11/23/10/.part-0.ndjson.crc',
        'sensors/2026/11/23/10/_SUCCESS',
        'sensors/2026/11/23/11/_tmp/',
        'sensors/2026/11/_temporary/',
        'sensors/_temporary/',
      ]);
      expect(stats.unreadObjects).toEqual([]);
      expect(stats).toMatchObject({ files: 4, read: 16, invalid: 2, written: 10 });
      expect(events.filter((e) => e.type === 'failure').map((e) => 'code' in e && e.code)).toEqual([
        'SENSOR_RECORD_INVALID',
      ]);
    });

    it('sends a line that is not UTF-8 to the errors table with the byte offset, and reads the rest of the object', async () => {
      for (const gzip of [false, true]) {
        // Every line has a "°" (2 bytes); reads of 7 bytes cut many of them in two.
        const raw = new ChunkedStorage(7);
        const good = (id: string) => Buffer.from(`${line(reading(id, '2026-11-23T10:00:00.000Z', 20))}\n`);
        // The id "café-1:0" from a Latin-1 producer: "é" as the single byte 0xE9.
        const utf8 = Buffer.from(`${line(reading('café-1:0', '2026-11-23T10:00:00.000Z', 20))}\n`);
        const at = utf8.indexOf('é');
        const badLine = Buffer.concat([utf8.subarray(0, at), Uint8Array.of(0xe9), utf8.subarray(at + 2)]);
        const body = Buffer.concat([good('t-1:0'), badLine, good('t-1:1')]);
        const key = `sensors/2026/11/23/10/latin1.ndjson${gzip ? '.gz' : ''}`;
        await raw.put(key, gzip ? gzipSync(body) : body);
        const processed = new MemoryStorage();

        const stats = await rawToProcessed({ raw, processed });

        expect(stats).toMatchObject({ read: 3, valid: 2, invalid: 1, written: 2 });
        const rows = await processedRows(processed);
        expect(rows.map((r) => [r.id, r.unit])).toEqual([
          ['t-1:0', '°C'],
          ['t-1:1', '°C'],
        ]);
        const [error] = await errorRows(processed);
        expect(error).toMatchObject({
          key,
          line: 2,
          code: 'INVALID_UTF8',
          reason: `invalid UTF-8 at byte offset ${at}`,
        });
        expect(error?.raw).toContain('caf\uFFFD-1:0');
      }
    });

    it('rejects wrong options with the option named', async () => {
      const raw = new MemoryStorage();
      const processed = new MemoryStorage();
      const cases: [Record<string, unknown>, string][] = [
        [{ dates: ['2026-02-30'] }, 'dates'],
        [{ dates: '2026-11-23' }, 'dates'],
        [{ maxLatenessHours: -1 }, 'maxLatenessHours'],
        [{ maxLatenessHours: 1.5 }, 'maxLatenessHours'],
        [{ table: '_sensors' }, 'table'],
        [{ errorsTable: 'sensors' }, 'errorsTable'],
        [{ raw: {} }, 'raw'],
        [{ onEvent: 'log' }, 'onEvent'],
        [{ tableFormat: 'delta' }, 'tableFormat'],
        [{ catalog: new StorageCatalog(processed) }, 'catalog'],
        [{ tableFormat: 'iceberg', catalog: { load: () => undefined } }, 'catalog'],
      ];
      for (const [patch, option] of cases) {
        await expect(
          rawToProcessed({ raw, processed, ...patch } as Parameters<typeof rawToProcessed>[0]),
        ).rejects.toMatchObject({
          name: 'OptionsError',
          code: 'SENSOR_TRANSFORM_OPTIONS_INVALID',
          option,
        });
      }
    });

    it('says which option is wrong and what it must be', async () => {
      const raw = new MemoryStorage();
      const processed = new MemoryStorage();

      const delta = rawToProcessed({ raw, processed, tableFormat: 'delta' as 'hive' });
      const hiveCatalog = rawToProcessed({ raw, processed, catalog: new StorageCatalog(processed) });
      const none = rawToProcessed(null as never);

      await expect(delta).rejects.toThrow(
        'Sensor transform option tableFormat must be "hive" or "iceberg", got string "delta"',
      );
      await expect(hiveCatalog).rejects.toThrow(
        "Sensor transform option catalog must be absent unless tableFormat is 'iceberg'",
      );
      await expect(none).rejects.toMatchObject({
        code: 'SENSOR_TRANSFORM_OPTIONS_INVALID',
        option: 'options',
      });
    });
  });
});

/** A processed table written directly, with values whose statistics are worked out by hand below. */
async function processedZone(): Promise<MemoryStorage> {
  const processed = new MemoryStorage();
  const at = (iso: string, i: number) => new Date(Date.parse(iso) + i * 1000).toISOString();
  const records = [
    // Temperature, 23rd 10:00–11:00, range −40..85: −50, 90 and 100 are anomalies.
    ...[90, -50, 10, 100, 20, 30, 40, 50, 60, 70].map((v, i) =>
      reading(`t:${i}`, at('2026-11-23T10:00:00Z', i), v),
    ),
    // Power factor, same hour, range 0.7..1: 0.6 is an anomaly.
    ...[0.9, 0.8, 0.95, 0.6].map((v, i) =>
      reading(`pf:${i}`, at('2026-11-23T10:30:00Z', i), v, 'power_factor', '1'),
    ),
    reading('t:10', '2026-11-23T11:15:00Z', 21.5),
    // Hydraulic pressure, 24th 00:00, range 0..350: 400 is an anomaly.
    ...[400, 100].map((v, i) =>
      reading(`hp:${i}`, at('2026-11-24T00:10:00Z', i), v, 'hydraulic_pressure', 'bar'),
    ),
  ];
  await writeDataset(records, {
    storage: processed,
    table: 'sensors',
    schema: sensorRecordSchema,
    partitionBy: byHour('timestamp'),
    mode: 'overwrite_partitions',
  });
  return processed;
}

async function curatedRows(curated: MemoryStorage): Promise<CuratedHourlyRow[]> {
  const rows: CuratedHourlyRow[] = [];
  for await (const row of readDataset({
    storage: curated,
    table: 'sensor_hourly',
    schema: curatedHourlySchema,
    partitionBy: [byField('dt')],
  })) {
    rows.push(row);
  }
  return rows.sort((a, b) => a.dt.localeCompare(b.dt) || a.hour - b.hour || a.type.localeCompare(b.type));
}

describe('processedToCurated', () => {
  describe('processedToCurated', () => {
    it('computes count, min, max, mean, p95 (linear between closest ranks) and anomalies per type and hour', async () => {
      const processed = await processedZone();
      const curated = new MemoryStorage();

      const stats = await processedToCurated({ processed, curated });

      expect(stats).toEqual({
        dates: ['2026-11-23', '2026-11-24'],
        records: 17,
        rows: 4,
        anomalies: 5,
        partitions: ['dt=2026-11-23/', 'dt=2026-11-24/'],
        unknownTypes: [],
      });
      const rows = await curatedRows(curated);
      // Temperature: sorted −50 10 20 30 40 50 60 70 90 100; sum 420; h = 9 × 0.95 = 8.55 → 90 + 0.55 × 10.
      expect(rows[1]).toEqual({
        dt: '2026-11-23',
        hour: 10,
        type: 'temperature',
        unit: '°C',
        count: 10n,
        min: -50,
        max: 100,
        mean: 42,
        // (n − 1) × 0.95 is 8.549999999999999 in doubles (as in numpy, Spark and DuckDB).
        p95: expect.closeTo(95.5, 12),
        anomalies: 3n,
      });
      // Power factor: sorted 0.6 0.8 0.9 0.95; sum 3.25; h = 3 × 0.95 = 2.85 → 0.9 + 0.85 × 0.05.
      expect(rows[0]).toMatchObject({
        dt: '2026-11-23',
        hour: 10,
        type: 'power_factor',
        unit: '1',
        count: 4n,
        min: 0.6,
        max: 0.95,
        anomalies: 1n,
      });
      expect(rows[0]?.mean).toBeCloseTo(0.8125, 12);
      expect(rows[0]?.p95).toBeCloseTo(0.9425, 12);
      // One value: every statistic is that value.
      expect(rows[2]).toEqual({
        dt: '2026-11-23',
        hour: 11,
        type: 'temperature',
        unit: '°C',
        count: 1n,
        min: 21.5,
        max: 21.5,
        mean: 21.5,
        p95: 21.5,
        anomalies: 0n,
      });
      // Pressure: 100 and 400; h = 0.95 → 100 + 0.95 × 300.
      expect(rows[3]).toEqual({
        dt: '2026-11-24',
        hour: 0,
        type: 'hydraulic_pressure',
        unit: 'bar',
        count: 2n,
        min: 100,
        max: 400,
        mean: 250,
        p95: 385,
        anomalies: 1n,
      });
    });

    it('writes the same files when run again, and only the days asked for', async () => {
      const processed = await processedZone();
      const curated = new MemoryStorage();
      await processedToCurated({ processed, curated });
      const first = (await readManifest(curated, 'sensor_hourly'))?.files;

      const again = await processedToCurated({ processed, curated, dates: ['2026-11-24'] });

      expect(again).toMatchObject({ dates: ['2026-11-24'], records: 2, rows: 1 });
      expect((await readManifest(curated, 'sensor_hourly'))?.files).toEqual(first);
      expect(await curatedRows(curated)).toHaveLength(4);
    });

    it('takes units and ranges from the registry given', async () => {
      const processed = new MemoryStorage();
      await writeDataset([reading('v-1:0', '2026-11-23T10:00:00Z', 12, 'vibration', 'mm/s')], {
        storage: processed,
        table: 'sensors',
        schema: sensorRecordSchema,
        partitionBy: byHour('timestamp'),
      });
      const vibration = defineSensorType({
        name: 'vibration',
        unit: 'mm/s',
        range: { min: 0, max: 10 },
        model: () => 1,
      });
      const curated = new MemoryStorage();

      const stats = await processedToCurated({
        processed,
        curated,
        types: defaultSensorTypes().register(vibration),
      });

      expect(await curatedRows(curated)).toEqual([
        expect.objectContaining({ type: 'vibration', unit: 'mm/s', count: 1n, anomalies: 1n }),
      ]);
      expect(stats.unknownTypes).toEqual([]);
    });

    it("aggregates a type the registry does not hold, with its records' unit and no anomalies, and counts it", async () => {
      const processed = await processedZone();
      await writeDataset(
        [
          reading('v-1:0', '2026-11-23T10:00:00Z', 12, 'vibration', 'mm/s'),
          reading('v-1:1', '2026-11-23T10:00:01Z', 2, 'vibration', 'mm/s'),
          reading('w-1:0', '2026-11-24T00:00:00Z', 7, 'wind', 'm/s'),
        ],
        {
          storage: processed,
          table: 'sensors',
          schema: sensorRecordSchema,
          partitionBy: byHour('timestamp'),
        },
      );
      const curated = new MemoryStorage();

      const stats = await processedToCurated({ processed, curated });

      expect(stats).toMatchObject({ records: 20, rows: 6, anomalies: 5 });
      expect(stats.unknownTypes).toEqual([
        { type: 'vibration', records: 2 },
        { type: 'wind', records: 1 },
      ]);
      const rows = await curatedRows(curated);
      expect(rows.filter((r) => r.type === 'vibration' || r.type === 'wind')).toEqual([
        {
          dt: '2026-11-23',
          hour: 10,
          type: 'vibration',
          unit: 'mm/s',
          count: 2n,
          min: 2,
          max: 12,
          mean: 7,
          p95: 11.5,
          anomalies: 0n,
        },
        {
          dt: '2026-11-24',
          hour: 0,
          type: 'wind',
          unit: 'm/s',
          count: 1n,
          min: 7,
          max: 7,
          mean: 7,
          p95: 7,
          anomalies: 0n,
        },
      ]);
      // The known types are aggregated as before.
      expect(rows.find((r) => r.type === 'temperature' && r.hour === 10)).toMatchObject({
        count: 10n,
        anomalies: 3n,
      });
    });

    it('does nothing for a processed table that does not exist yet', async () => {
      const curated = new MemoryStorage();

      const stats = await processedToCurated({ processed: new MemoryStorage(), curated });

      expect(stats).toEqual({
        dates: [],
        records: 0,
        rows: 0,
        anomalies: 0,
        partitions: [],
        unknownTypes: [],
      });
      expect(await readManifest(curated, 'sensor_hourly')).toBeUndefined();
    });
  });
});

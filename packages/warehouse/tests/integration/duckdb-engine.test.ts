import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, field } from '@tributary/core';
import {
  byHour,
  crawl,
  createDelivery,
  LocalStorage,
  readDataset,
  type TableDefinition,
  writeDataset,
} from '@tributary/lake';
import {
  curatedHourlySchema,
  generateRecords,
  processedToCurated,
  type SensorRecord,
  sensorRecordSchema,
} from '@tributary/sensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/duckdb-engine.js';
import {
  QueryCancelledError,
  QueryFailedError,
  QueryParameterError,
  WarehouseOptionsError,
} from '../../src/errors.js';

// A small sensor lake written by the lake and sensors packages: processed Parquet (dt/hour hive
// partitions), curated hourly aggregates (dt), and a raw zone in Firehose's YYYY/MM/DD/HH layout.

const START = Date.UTC(2026, 10, 23);
let dir: string;
let raw: LocalStorage;
let processed: LocalStorage;
let curated: LocalStorage;
let records: SensorRecord[];
let tables: Record<'sensors' | 'sensor_hourly' | 'raw_sensors', TableDefinition>;
let engine: DuckDbEngine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-duckdb-'));
  raw = new LocalStorage({ root: join(dir, 'raw') });
  processed = new LocalStorage({ root: join(dir, 'processed') });
  curated = new LocalStorage({ root: join(dir, 'curated') });
  records = [
    ...generateRecords({
      seed: 7,
      records: 6_000,
      sensorsPerType: 2,
      start: START,
      ratePerSecond: 6_000 / 86_400,
    }),
  ];
  await writeDataset(records, {
    storage: processed,
    table: 'sensors',
    schema: sensorRecordSchema,
    partitionBy: byHour('timestamp'),
  });
  await processedToCurated({ processed, curated });
  const delivery = createDelivery({
    storage: raw,
    prefix: 'sensors/',
    streamName: 'sensors',
    bufferIntervalMs: 60_000,
  });
  for (const record of records.slice(0, 1_000))
    await delivery.write({ ...record, timestamp: record.timestamp.toISOString() });
  await delivery.close();
  tables = {
    sensors: await crawl(processed, 'sensors'),
    sensor_hourly: await crawl(curated, 'sensor_hourly'),
    raw_sensors: await crawl(raw, 'sensors', { name: 'raw_sensors' }),
  };
  engine = await DuckDbEngine.create({ database: 'tributary', threads: 1 });
  for (const table of Object.values(tables)) await engine.registerTable(table);
}, 60_000);

afterAll(async () => {
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('DuckDbEngine', () => {
  describe('registerTable', () => {
    it('gives every record of a hive-partitioned Parquet table back, with dt and hour as columns', async () => {
      const { rows } = await engine
        .query<{ n: bigint; days: bigint; hours: bigint }>(
          'SELECT count(*) AS n, count(DISTINCT dt) AS days, count(DISTINCT hour) AS hours FROM sensors',
        )
        .collect();
      expect(rows).toEqual([{ n: BigInt(records.length), days: 1n, hours: 24n }]);
    });

    it('reads the Firehose layout (not k=v folders) with the crawler partition keys as columns', async () => {
      const { rows, columns } = await engine
        .query(
          'SELECT year, month, day, count(*) AS n, min(timestamp) AS first FROM raw_sensors GROUP BY ALL',
        )
        .collect();
      const now = new Date();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        year: String(now.getUTCFullYear()),
        month: String(now.getUTCMonth() + 1).padStart(2, '0'),
        n: 1_000n,
      });
      // The catalog's types, not DuckDB's guesses: ISO-8601 text in NDJSON is a string, as
      // Athena's JSON SerDe reads it.
      expect(rows[0]?.first).toBe(records[0]?.timestamp.toISOString());
      expect(columns.map((c) => c.name)).toEqual(['year', 'month', 'day', 'n', 'first']);
    });

    it('sees only the files of the catalog: a half-written dataset in _staging is not read', async () => {
      await processed.put('sensors/_staging/x/dt=2026-11-23/hour=00/part-9.parquet', 'not parquet');
      await engine.registerTable(await crawl(processed, 'sensors'));
      const { rows } = await engine.query('SELECT count(*) AS n FROM sensors').collect();
      expect(rows[0]?.n).toBe(BigInt(records.length));
    });

    it('registers a table with no files yet as an empty view of its columns', async () => {
      const empty: TableDefinition = {
        ...tables.sensors,
        name: 'nothing_yet',
        location: `${processed.url}/none/`,
        partitions: [],
      };
      await engine.registerTable(empty);
      const result = await engine.query('SELECT * FROM nothing_yet').collect();
      expect(result.rows).toEqual([]);
      expect(result.columns.map((c) => c.name)).toEqual([
        ...tables.sensors.columns.map((c) => c.name),
        'dt',
        'hour',
      ]);
    });

    it('refuses an s3:// table with a reason instead of downloading an extension', async () => {
      await expect(
        engine.registerTable({ ...tables.sensors, location: 's3://bucket/sensors/' }),
      ).rejects.toThrow(/reads local lakes only.*AthenaEngine/);
    });
  });

  describe('query', () => {
    it('computes hourly means equal to the ones computed from the records', async () => {
      const { rows } = await engine
        .query<{ hour: string; mean: number }>(
          'SELECT hour, avg(value) AS mean FROM sensors WHERE type = ? AND dt = ? GROUP BY hour ORDER BY hour',
          { params: ['temperature', '2026-11-23'] },
        )
        .collect();
      const byHourJs = new Map<string, number[]>();
      for (const r of records.filter((x) => x.type === 'temperature')) {
        const h = r.timestamp.toISOString().slice(11, 13);
        byHourJs.set(h, [...(byHourJs.get(h) ?? []), r.value]);
      }
      expect(rows.map((r) => r.hour)).toEqual([...byHourJs.keys()].sort());
      for (const row of rows) {
        const values = byHourJs.get(row.hour) as number[];
        expect(row.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
      }
    });

    it('returns curated rows exactly as readDataset does (dates as text, int64 as bigint)', async () => {
      const fromLake = [];
      for await (const r of readDataset({
        storage: curated,
        table: 'sensor_hourly',
        schema: curatedHourlySchema,
      })) {
        fromLake.push(r);
      }
      const { rows } = await engine
        .query('SELECT dt, hour, type, count, min, max, anomalies FROM sensor_hourly ORDER BY dt, hour, type')
        .collect();
      const expected = fromLake
        .map(({ dt, hour, type, count, min, max, anomalies }) => ({
          dt,
          hour: String(hour).padStart(2, '0'),
          type,
          count,
          min,
          max,
          anomalies,
        }))
        .sort((a, b) => `${a.dt}${a.hour}${a.type}`.localeCompare(`${b.dt}${b.hour}${b.type}`));
      // `hour` is a data column of the curated table (int32) but the dt partition is a string key.
      expect(rows.map((r) => ({ ...r, hour: String(r.hour).padStart(2, '0') }))).toEqual(expected);
      expect(typeof rows[0]?.dt).toBe('string');
      expect(typeof rows[0]?.count).toBe('bigint');
    });

    it('runs the Athena function names the pipelines use (approx_percentile, from_iso8601_timestamp)', async () => {
      const { rows } = await engine
        .query(
          "SELECT approx_percentile(value, 0.5) AS median, from_iso8601_timestamp('2026-11-23T10:00:00Z') AS t FROM sensors WHERE type = ?",
          { params: ['power_factor'] },
        )
        .collect();
      const values = records
        .filter((r) => r.type === 'power_factor')
        .map((r) => r.value)
        .sort((a, b) => a - b);
      expect(values).toContain(rows[0]?.median);
      expect(rows[0]?.median).toBe(values[Math.ceil(values.length * 0.5) - 1]);
      expect(rows[0]?.t).toEqual(new Date('2026-11-23T10:00:00Z'));
    });

    it('binds hostile strings as values, never as SQL', async () => {
      const hostile = "x'; DROP VIEW sensors; --";
      const { rows } = await engine
        .query('SELECT count(*) AS n, ? AS echoed FROM sensors WHERE type = ?', {
          params: [hostile, hostile],
        })
        .collect();
      expect(rows).toEqual([{ n: 0n, echoed: hostile }]);
      const after = await engine.query('SELECT count(*) AS n FROM sensors').collect();
      expect(after.rows[0]?.n).toBe(BigInt(records.length));
    });

    it('binds Dates as UTC instants, bigints beyond 2^53 and NULL', async () => {
      const at = new Date('2026-11-23T12:00:00.123Z');
      const { rows } = await engine
        .query(
          'SELECT ? AS t, ? AS big, ? IS NULL AS isnull, count(*) FILTER (WHERE timestamp < ?) AS before FROM sensors',
          {
            params: [at, 2n ** 60n + 1n, null, at],
          },
        )
        .collect();
      expect(rows[0]?.t).toEqual(at);
      expect(rows[0]?.big).toBe(2n ** 60n + 1n);
      expect(rows[0]?.isnull).toBe(true);
      expect(rows[0]?.before).toBe(BigInt(records.filter((r) => r.timestamp < at).length));
    });

    it('keeps decimals exact as text', async () => {
      const { rows } = await engine
        .query("SELECT CAST('12345678901234567890.123456789012345678' AS DECIMAL(38,18)) AS d")
        .collect();
      expect(rows[0]?.d).toBe('12345678901234567890.123456789012345678');
    });

    it('streams rows chunk by chunk and reports stats when done', async () => {
      const result = engine.query('SELECT id FROM sensors');
      expect(result.stats).toBeUndefined();
      let n = 0;
      for await (const _ of result) n++;
      expect(n).toBe(records.length);
      expect(result.stats).toMatchObject({ engine: 'duckdb', rows: records.length });
      expect(result.stats?.elapsedMs).toBeGreaterThan(0);
      await expect(result.collect()).rejects.toMatchObject({ code: 'QUERY_RESULT_CONSUMED' });
    });

    it('runs two queries side by side', async () => {
      const a = engine.query('SELECT id FROM sensors ORDER BY id')[Symbol.asyncIterator]();
      const b = engine.query('SELECT count(*) AS n FROM sensor_hourly').collect();
      const first = await a.next();
      expect((first.value as { id: string }).id).toBe([...records].map((r) => r.id).sort()[0]);
      expect((await b).rows[0]?.n).toBeGreaterThan(0n);
      await a.return?.(undefined);
    });

    it('turns an SQL error into QueryFailedError with DuckDB reason', async () => {
      const error = await engine
        .query('SELECT no_such_column FROM sensors')
        .collect()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueryFailedError);
      expect((error as QueryFailedError).reason).toMatch(/no_such_column/);
    });

    it('cancels a running query through its AbortSignal', async () => {
      const controller = new AbortController();
      const result = engine.query(
        'SELECT count(*) FROM range(100000000000) a(x), range(10) b(y) WHERE (x * y) % 7 = 3',
        { signal: controller.signal },
      );
      setTimeout(() => controller.abort(), 200);
      const started = performance.now();
      await expect(result.collect()).rejects.toBeInstanceOf(QueryCancelledError);
      expect(performance.now() - started).toBeLessThan(10_000);
    });

    it('rejects parameters it cannot bind', async () => {
      expect(() => engine.query('SELECT ?', { params: [new Date(Number.NaN)] })).toThrow(QueryParameterError);
      expect(() => engine.query('SELECT ?', { params: [Number.POSITIVE_INFINITY] })).toThrow(/finite/);
      expect(() => engine.query('SELECT 1, ?', { params: [1, { a: 1 } as never] })).toThrow(
        expect.objectContaining({ code: 'QUERY_PARAMETER_INVALID', parameter: 2 }),
      );
    });
  });

  describe('create', () => {
    it('validates its options', async () => {
      await expect(DuckDbEngine.create({ threads: 0 })).rejects.toThrow(WarehouseOptionsError);
      await expect(DuckDbEngine.create({ database: '' })).rejects.toThrow(WarehouseOptionsError);
      await expect(DuckDbEngine.create({ threads: 0 })).rejects.toMatchObject({
        code: 'DUCKDB_OPTIONS_INVALID',
        option: 'threads',
      });
      await expect(DuckDbEngine.create({ database: '' })).rejects.toMatchObject({
        code: 'DUCKDB_OPTIONS_INVALID',
        option: 'database',
      });
    });

    it('refuses queries once closed', async () => {
      const other = await DuckDbEngine.create();
      await other.close();
      expect(() => other.query('SELECT 1')).toThrow(/closed/);
      expect(() => other.query('SELECT 1')).toThrow(expect.objectContaining({ code: 'ENGINE_CLOSED' }));
      expect(() => other.query('SELECT 1')).not.toThrow(WarehouseOptionsError);
    });

    it('await using closes the engine at the end of the block', async () => {
      let escaped: DuckDbEngine | undefined;
      {
        await using scoped = await DuckDbEngine.create({ threads: 1 });
        escaped = scoped;
        expect(await scoped.query('SELECT 1 AS one').collect()).toMatchObject({ rows: [{ one: 1 }] });
      }

      expect(() => escaped?.query('SELECT 1')).toThrow(/closed/);
    });

    it('puts tables in their definition database and hostile names stay names', async () => {
      const schema = defineSchema({ 'we"ird; name': field.string(), 温度: field.double() });
      const storage = new LocalStorage({ root: join(dir, 'hostile') });
      await writeDataset([{ 'we"ird; name': "'; DROP TABLE x; --", 温度: 21.5 }], {
        storage,
        table: 'odd',
        schema,
      });
      const table = { ...(await crawl(storage, 'odd')), name: 'odd', database: 'other db"; --' };
      await engine.registerTable(table);
      const { rows } = await engine.query('SELECT * FROM "other db""; --".odd').collect();
      expect(rows).toEqual([{ 'we"ird; name': "'; DROP TABLE x; --", 温度: 21.5 }]);
    });
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { createDelivery, type DeliveryRecord, LocalStorage } from '@tributary/lake';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords } from '../../src/fleet.js';
import { defaultSensorTypes } from '../../src/models.js';
import type { SensorRecord } from '../../src/record.js';
import {
  type ProcessedToCuratedStats,
  processedToCurated,
} from '../../src/transforms/processed-to-curated.js';
import { type RawToProcessedStats, rawToProcessed } from '../../src/transforms/raw-to-processed.js';

const COUNT = 50_000;
/** Every REDELIVER_EVERY-th record is delivered twice. */
const REDELIVER_EVERY = 50;
const DUPLICATES = COUNT / REDELIVER_EVERY;
// One record a second from 18:00: the data crosses midnight into the 24th.
const START = Date.UTC(2026, 10, 23, 18);

let folder: string;
let records: SensorRecord[];
let rawStats: RawToProcessedStats;
let curatedStats: ProcessedToCuratedStats;
let instance: DuckDBInstance;
let duck: DuckDBConnection;
let processedGlob: string;
let curatedGlob: string;

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

/**
 * Arrivals as Kinesis would hand them to the delivery: 0–120 s after event time, plus a second
 * delivery of every REDELIVER_EVERY-th record about a hundred records later (a producer retry).
 */
function* arrivals(): Iterable<DeliveryRecord> {
  const lag = 100;
  for (let j = 0; j < records.length + lag; j++) {
    const record = records[j];
    if (record) yield { data: record, arrivalTime: record.timestamp.getTime() + ((j * 7_919) % 120_000) };
    const again = records[j - lag];
    if (again && (j - lag) % REDELIVER_EVERY === 0) {
      yield { data: again, arrivalTime: again.timestamp.getTime() + 220_000 };
    }
  }
}

/** The UTC `YYYY-MM-DD HH` hours of the generated records. */
function eventHours(): Set<string> {
  return new Set(records.map((r) => r.timestamp.toISOString().slice(0, 13)));
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tributary-transforms-'));
  const raw = new LocalStorage({ root: join(folder, 'raw') });
  const processed = new LocalStorage({ root: join(folder, 'processed') });
  const curated = new LocalStorage({ root: join(folder, 'curated') });
  records = [
    ...generateRecords({
      sensorsPerType: 5,
      ratePerSecond: 1,
      seed: 42,
      start: START,
      records: COUNT,
      anomalies: { spikeRate: 0.01, stuckRate: 0.01, dropoutRate: 0.005 },
    }),
  ];
  const delivery = createDelivery({
    storage: raw,
    prefix: 'sensors/',
    streamName: 'sensors',
    compression: 'gzip',
    bufferBytes: 64 * 1024,
  });
  await delivery.consume(arrivals());

  rawStats = await rawToProcessed({ raw, processed });
  curatedStats = await processedToCurated({ processed, curated });

  processedGlob = join(folder, 'processed', 'sensors', 'dt=*', 'hour=*', '*.parquet');
  curatedGlob = join(folder, 'curated', 'sensor_hourly', 'dt=*', '*.parquet');
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  await duck.run("SET TimeZone = 'UTC'");
}, 60_000);

afterAll(async () => {
  duck?.closeSync();
  instance?.closeSync();
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('sensor transforms on a local lake', () => {
  describe('rawToProcessed', () => {
    it('keeps every id once: DuckDB counts as many rows as distinct ids, with the values generated', async () => {
      const [counts] = await query(
        `SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids FROM read_parquet('${processedGlob}', hive_partitioning = true)`,
      );
      const rows = await query(
        `SELECT id, value, epoch_ms(timestamp)::DOUBLE AS ms FROM read_parquet('${processedGlob}', hive_partitioning = true)`,
      );

      expect(rawStats).toMatchObject({
        read: COUNT + DUPLICATES,
        valid: COUNT + DUPLICATES,
        invalid: 0,
        duplicates: DUPLICATES,
        written: COUNT,
        dates: ['2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25'],
      });
      expect(counts).toEqual({ n: COUNT, ids: COUNT });
      const generated = new Map(records.map((r) => [r.id, r]));
      const mismatches = rows.filter((row) => {
        const record = generated.get(row.id as string);
        return record === undefined || record.value !== row.value || record.timestamp.getTime() !== row.ms;
      });
      expect(mismatches).toEqual([]);
    });

    it('puts each record in the dt and hour partition of its event time', async () => {
      const [check] = await query(
        `SELECT count(*)::INTEGER AS misplaced, count(DISTINCT dt)::INTEGER AS days
         FROM read_parquet('${processedGlob}', hive_partitioning = true)
         WHERE strftime(timestamp::TIMESTAMP, '%Y-%m-%d') <> dt::VARCHAR OR hour(timestamp::TIMESTAMP) <> hour::INTEGER`,
      );
      const [spread] = await query(
        `SELECT count(DISTINCT (dt, hour))::INTEGER AS hours FROM read_parquet('${processedGlob}', hive_partitioning = true)`,
      );

      expect(check).toEqual({ misplaced: 0, days: 0 });
      expect(spread?.hours).toBe(eventHours().size);
      expect(rawStats.partitions).toEqual(
        [...eventHours()].map((h) => `dt=${h.slice(0, 10)}/hour=${h.slice(11)}/`).sort(),
      );
    });
  });

  describe('processedToCurated', () => {
    it("matches DuckDB's count, min, max, avg, quantile_cont(value, 0.95) and out-of-range count per type and hour", async () => {
      const ranges = defaultSensorTypes()
        .list()
        .map((t) => `('${t.name}', ${t.range.min}::DOUBLE, ${t.range.max}::DOUBLE)`)
        .join(', ');
      const rows = await query(
        `WITH ranges(type, lo, hi) AS (VALUES ${ranges}),
         expected AS (
           SELECT dt::VARCHAR AS dt, hour::INTEGER AS hour, type, count(*)::INTEGER AS count, min(value) AS min,
                  max(value) AS max, avg(value) AS mean, quantile_cont(value, 0.95) AS p95,
                  (count(*) FILTER (WHERE value < lo OR value > hi))::INTEGER AS anomalies
           FROM read_parquet('${processedGlob}', hive_partitioning = true) JOIN ranges USING (type)
           GROUP BY ALL
         ),
         actual AS (
           SELECT dt::VARCHAR AS dt, hour, type, count::INTEGER AS count, min, max, mean, p95, anomalies::INTEGER AS anomalies
           FROM read_parquet('${curatedGlob}', hive_partitioning = true)
         )
         SELECT e.dt AS e_dt, a.dt AS a_dt, e.hour, e.type, e.count AS e_count, a.count AS a_count,
                e.min AS e_min, a.min AS a_min, e.max AS e_max, a.max AS a_max, e.mean AS e_mean, a.mean AS a_mean,
                e.p95 AS e_p95, a.p95 AS a_p95, e.anomalies AS e_anomalies, a.anomalies AS a_anomalies
         FROM expected e FULL OUTER JOIN actual a ON a.dt = e.dt AND a.hour = e.hour AND a.type = e.type`,
      );

      expect(rows).toHaveLength(eventHours().size * 3);
      expect(curatedStats).toMatchObject({
        records: COUNT,
        rows: eventHours().size * 3,
        dates: ['2026-11-23', '2026-11-24'],
      });
      for (const row of rows) {
        expect(row.a_dt, JSON.stringify(row)).toBe(row.e_dt);
        expect(row.a_count).toBe(row.e_count);
        expect(row.a_anomalies).toBe(row.e_anomalies);
        expect(row.a_min).toBe(row.e_min);
        expect(row.a_max).toBe(row.e_max);
        expect(Math.abs((row.a_mean as number) - (row.e_mean as number))).toBeLessThanOrEqual(1e-9);
        expect(Math.abs((row.a_p95 as number) - (row.e_p95 as number))).toBeLessThanOrEqual(1e-9);
      }
      const totalAnomalies = rows.reduce((sum, r) => sum + (r.a_anomalies as number), 0);
      expect(totalAnomalies).toBe(curatedStats.anomalies);
      expect(totalAnomalies).toBeGreaterThan(COUNT * 0.005);
    });

    it('sums its hourly counts to the processed row count', async () => {
      const [sum] = await query(
        `SELECT sum(count)::INTEGER AS total, count(DISTINCT type)::INTEGER AS types FROM read_parquet('${curatedGlob}', hive_partitioning = true)`,
      );

      expect(sum).toEqual({ total: COUNT, types: 3 });
    });
  });
});

describe('sensor transforms on a local lake, with input that is not all good', () => {
  const READ_CHUNK = 64 * 1024;
  let bad: string;
  let badDuck: DuckDBConnection;
  let badInstance: DuckDBInstance;
  let raw: LocalStorage;
  let stats: RawToProcessedStats;
  let curated: ProcessedToCuratedStats;
  let badLineOffset: number;
  let badLineNumber: number;
  const HOUR_KEY = 'sensors/2026/11/23/10/sensors-2026-11-23-10-00-00-big.ndjson';
  const GOOD = 2_000;

  const select = async (sql: string) =>
    (await badDuck.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  const recordLine = (id: string, type = 'temperature', unit = '°C') =>
    JSON.stringify({
      id,
      sensorId: id.split(':')[0],
      type,
      value: 21.5,
      unit,
      timestamp: '2026-11-23T10:15:00.000Z',
    });

  beforeAll(async () => {
    bad = await mkdtemp(join(tmpdir(), 'tributary-transforms-bad-'));
    raw = new LocalStorage({ root: join(bad, 'raw') });
    const processed = new LocalStorage({ root: join(bad, 'processed') });
    const curatedZone = new LocalStorage({ root: join(bad, 'curated') });
    // Valid lines whose "°" (2 bytes) straddles the first 64 KiB read: its first byte is the chunk's last.
    const lines: Buffer[] = [];
    let size = 0;
    for (let i = 0; size < READ_CHUNK - 200; i++) {
      const line = Buffer.from(`${recordLine(`t-1:${i}`)}\n`);
      lines.push(line);
      size += line.length;
    }
    const probe = Buffer.from(`${recordLine('t-2:')}\n`);
    const pad = READ_CHUNK - 1 - size - probe.indexOf('°');
    lines.push(Buffer.from(`${recordLine(`t-2:${'0'.repeat(pad)}`)}\n`));
    // A Latin-1 producer's "é" (0xE9 alone), then a type the default registry does not hold.
    const latin1 = Buffer.from(`${recordLine('café-1:0')}\n`);
    badLineOffset = latin1.indexOf('é');
    badLineNumber = lines.length + 1;
    lines.push(
      Buffer.concat([
        latin1.subarray(0, badLineOffset),
        Uint8Array.of(0xe9),
        latin1.subarray(badLineOffset + 2),
      ]),
    );
    lines.push(Buffer.from(`${recordLine('v-1:0', 'vibration', 'mm/s')}\n`));
    for (let i = lines.length; i < GOOD + 2; i++) lines.push(Buffer.from(`${recordLine(`t-3:${i}`)}\n`));
    await raw.put(HOUR_KEY, Buffer.concat(lines));
    for (const key of ['sensors/x.ndjson', 'sensors/2026/11/x.ndjson', 'sensors/2026/11/23/10/_SUCCESS']) {
      await raw.put(key, `${recordLine('s-1:0')}\n`);
    }

    stats = await rawToProcessed({ raw, processed });
    curated = await processedToCurated({ processed, curated: curatedZone });
    badInstance = await DuckDBInstance.create(':memory:');
    badDuck = await badInstance.connect();
    await badDuck.run("SET TimeZone = 'UTC'");
  }, 60_000);

  afterAll(async () => {
    badDuck?.closeSync();
    badInstance?.closeSync();
    if (bad) await rm(bad, { recursive: true, force: true });
  });

  it('reads a character cut by a 64 KiB read whole, and sends only the line that is not UTF-8 to sensors_errors', async () => {
    const first = await (await raw.get(HOUR_KEY))[Symbol.asyncIterator]().next();
    const cut = (first.value as Buffer).subarray(-1)[0];
    const glob = join(bad, 'processed', 'sensors', 'dt=*', 'hour=*', '*.parquet');
    const [counts] = await select(
      `SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE unit NOT IN ('°C', 'mm/s') OR contains(id, '\uFFFD') OR contains(sensorId, '\uFFFD'))::INTEGER AS mangled,
              count(*) FILTER (WHERE id LIKE 't-2:%')::INTEGER AS straddling
       FROM read_parquet('${glob}', hive_partitioning = true)`,
    );
    const errors = await select(
      `SELECT key, line::INTEGER AS line, code, reason, contains(raw, '\uFFFD') AS marked FROM read_json_auto('${join(bad, 'processed', 'sensors_errors', 'dt=*', '*.ndjson')}')`,
    );

    expect(cut).toBe(0xc2); // the first byte of "°" ends the first read
    expect(stats).toMatchObject({ files: 1, read: GOOD + 2, valid: GOOD + 1, invalid: 1, written: GOOD + 1 });
    expect(counts).toEqual({ n: GOOD + 1, mangled: 0, straddling: 1 });
    expect(errors).toEqual([
      {
        key: HOUR_KEY,
        line: badLineNumber,
        code: 'INVALID_UTF8',
        reason: `invalid UTF-8 at byte offset ${badLineOffset}`,
        marked: true,
      },
    ]);
  });

  it('reports the objects outside the hour folders, lists the hidden ones, and reads none of them', async () => {
    const glob = join(bad, 'processed', 'sensors', 'dt=*', 'hour=*', '*.parquet');
    const [strays] = await select(
      `SELECT count(*)::INTEGER AS n FROM read_parquet('${glob}', hive_partitioning = true) WHERE id = 's-1:0'`,
    );

    expect(stats.unreadObjects).toEqual([
      {
        key: 'sensors/2026/11/x.ndjson',
        reason: 'not in an hour folder sensors/YYYY/MM/DD/HH/: its arrival hour is unknown',
      },
      {
        key: 'sensors/x.ndjson',
        reason: 'not in an hour folder sensors/YYYY/MM/DD/HH/: its arrival hour is unknown',
      },
    ]);
    expect(stats.ignoredObjects).toEqual(['sensors/2026/11/23/10/_SUCCESS']);
    expect(strays).toEqual({ n: 0 });
  });

  it('aggregates a sensor type the registry does not hold, with its unit and no anomalies, without failing', async () => {
    const rows = await select(
      `SELECT type, unit, count::INTEGER AS count, anomalies::INTEGER AS anomalies
       FROM read_parquet('${join(bad, 'curated', 'sensor_hourly', 'dt=*', '*.parquet')}', hive_partitioning = true) ORDER BY type`,
    );

    expect(curated.unknownTypes).toEqual([{ type: 'vibration', records: 1 }]);
    expect(rows).toEqual([
      { type: 'temperature', unit: '°C', count: GOOD, anomalies: 0 },
      { type: 'vibration', unit: 'mm/s', count: 1, anomalies: 0 },
    ]);
  });
});

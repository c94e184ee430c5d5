// Both engines, one input: the TypeScript pipeline writes a raw zone, then the TypeScript
// transforms and the Spark jobs each build processed and curated zones from it (in separate
// folders), and every table is compared row for row. The Spark outputs are read back with the
// lake's own reader (hyparquet for Parquet), so this also proves the TypeScript side reads
// Spark's files with the types we meant. The same again on Iceberg (`tableFormat: 'iceberg'` and
// `--table-format iceberg`): both engines' tables compared row for row and by their Iceberg
// metadata (partition spec, schema), and Spark committing onto a table the lake created.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  COIN_DAILY_TABLE,
  coinDailySchema,
  cryptocurrencySchema,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  MARKET_DAILY_TABLE,
  marketDailySchema,
  PROCESSED_CRYPTOCURRENCY_TABLE,
  PROCESSED_QUOTE_TABLE,
  quoteSchema,
} from '@tributary/coinmarketcap';
import type { Fields, Schema } from '@tributary/core';
import {
  byField,
  LocalStorage,
  listDatasetFiles,
  type PartitionSpec,
  readDataset,
  type Storage,
  scanIceberg,
} from '@tributary/lake';
import {
  curatedHourlySchema,
  processedToCurated,
  rawToProcessed,
  sensorErrorSchema,
  sensorRecordSchema,
} from '@tributary/sensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCryptoToPostgres } from '../../examples/crypto-to-postgres/src/crypto-to-postgres.js';
// @ts-expect-error -- a plain ES module script without type declarations
import { icebergRuntimeJar } from '../../scripts/iceberg-runtime.mjs';
import { writeSensorRawZone } from '../../spark/scripts/sensor-raw-zone.js';
import { sparkIcebergProblem } from './iceberg-probe.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = join(root, 'spark', '.venv', 'bin', 'python');
const LATENESS = 6;
const SETUP_TIMEOUT = 600_000;

/**
 * One Python process with one Spark session (spark/tests/job_server.py) runs every job of this
 * file, one after the other: a spark-submit per job would start a JVM and a SparkContext nine
 * times. The jobs are the same `main(args)` spark-submit runs.
 */
interface JobServer {
  run(job: string, args: string[]): Promise<string>;
  stop(): void;
}

let jobServer: Promise<JobServer> | undefined;

function startJobServer(): Promise<JobServer> {
  return new Promise((resolveServer, rejectServer) => {
    const child = spawn(python, [join(root, 'spark', 'tests', 'job_server.py'), '--master', 'local[2]'], {
      cwd: root,
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: '1',
        // The runtime jar scripts/iceberg-runtime.mjs checked: the session puts it on spark.jars.
        TRIBUTARY_ICEBERG_JAR: (icebergRuntimeJar as () => string)(),
      },
    });
    let log = '';
    let buffered = '';
    const waiting: ((reply: Record<string, unknown>) => void)[] = [];
    let ready = false;
    child.stderr.on('data', (c: Buffer) => {
      log = (log + c.toString()).slice(-8000);
    });
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString();
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (!line.startsWith('{"')) continue;
        const reply = JSON.parse(line) as Record<string, unknown>;
        if (!ready && reply.ready === true) {
          ready = true;
          resolveServer(server);
        } else waiting.shift()?.(reply);
      }
    });
    child.on('error', rejectServer);
    child.on('close', (code) => {
      if (!ready) rejectServer(new Error(`the Spark job server exited with ${code}:\n${log}`));
      for (const reply of waiting.splice(0))
        reply({ code: -1, stdout: '', error: `exited with ${code}:\n${log}` });
    });
    let queue: Promise<unknown> = Promise.resolve();
    const server: JobServer = {
      run(job, args) {
        const result = queue.then(
          () =>
            new Promise<string>((resolveJob, rejectJob) => {
              waiting.push((reply) =>
                reply.code === 0
                  ? resolveJob(String(reply.stdout))
                  : rejectJob(new Error(`${job} exited with ${reply.code}:\n${reply.error ?? ''}\n${log}`)),
              );
              child.stdin.write(`${JSON.stringify({ job, args })}\n`);
            }),
        );
        queue = result.catch(() => {});
        return result;
      },
      stop() {
        child.stdin.end();
        child.kill();
      },
    };
  });
}

/** Runs a Spark job; resolves with what it printed (its JSON summary line among it). */
async function runJob(job: string, args: string[]): Promise<string> {
  jobServer ??= startJobServer();
  return (await jobServer).run(job, args);
}

/**
 * Runs a pipeline's two Spark jobs (raw → processed, processed → curated) on local folders in
 * `format`; resolves with each job's printed output.
 */
async function runPipelineJobs(
  pipeline: 'sensors' | 'crypto',
  zones: { raw: string; processed: string; curated: string },
  format: 'hive' | 'iceberg',
): Promise<{ rawOut: string; curatedOut: string }> {
  const formatArgs = format === 'iceberg' ? ['--table-format', 'iceberg'] : [];
  const latenessArgs = pipeline === 'sensors' ? ['--max-lateness-hours', String(LATENESS)] : [];
  const rawOut = await runJob(`${pipeline}_raw_to_processed`, [
    ...['--raw', `file://${zones.raw}`, '--processed', `file://${zones.processed}`],
    ...latenessArgs,
    ...formatArgs,
  ]);
  const curatedOut = await runJob(`${pipeline}_processed_to_curated`, [
    ...['--processed', `file://${zones.processed}`, '--curated', `file://${zones.curated}`],
    ...formatArgs,
  ]);
  return { rawOut, curatedOut };
}

async function rows<F extends Fields>(
  storage: Storage,
  table: string,
  schema: Schema<F>,
  partitionBy?: PartitionSpec[],
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const row of readDataset({ storage, table, schema, ...(partitionBy ? { partitionBy } : {}) })) {
    out.push(row as Record<string, unknown>);
  }
  return out;
}

async function icebergRows<F extends Fields>(
  storage: Storage,
  table: string,
  schema: Schema<F>,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const row of readDataset({ storage, table, schema, tableFormat: 'iceberg' })) {
    out.push(row as Record<string, unknown>);
  }
  return out;
}

/**
 * What makes two Iceberg tables the same table: the current schema (names, types, required) and
 * the default partition spec (field names, transforms, source columns), from the metadata JSON.
 */
async function icebergShape(storage: Storage, table: string) {
  const { metadata } = await scanIceberg({ storage, table });
  const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']);
  const nameOf = (id: number) => schema?.fields.find((f) => f.id === id)?.name;
  return {
    formatVersion: metadata['format-version'],
    columns: schema?.fields.map((f) => [f.name, JSON.stringify(f.type).replace(/\s/g, ''), f.required]),
    spec: spec?.fields.map((f) => [f.name, f.transform, nameOf(f['source-id'])]),
  };
}

/** The table's snapshots, oldest first: id and parent. */
async function snapshotsOf(storage: Storage, table: string) {
  const { metadata } = await scanIceberg({ storage, table });
  return {
    current: String(metadata['current-snapshot-id']),
    chain: (metadata.snapshots ?? []).map((s) => ({
      id: String(s['snapshot-id']),
      parent: s['parent-snapshot-id'] === undefined ? undefined : String(s['parent-snapshot-id']),
    })),
  };
}

/** The partition folders of a table (`dt=…/hour=…/`), sorted. */
async function partitions(storage: Storage, table: string): Promise<string[]> {
  return [...new Set((await listDatasetFiles(storage, table)).map((f) => f.partition))].sort();
}

/** The JSON line a Spark job prints about its run (what it did not read, the unknown types). */
function summaryOf(stdout: string, job: string): Record<string, unknown> {
  const line = stdout.split('\n').find((l) => l.startsWith(`{"job": "${job}"`));
  if (line === undefined) throw new Error(`${job} printed no summary:\n${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

const keyOf = (row: Record<string, unknown>, keys: readonly string[]) =>
  JSON.stringify(keys.map((k) => (row[k] instanceof Date ? (row[k] as Date).toISOString() : String(row[k]))));

function sortBy(list: Record<string, unknown>[], keys: readonly string[]) {
  return [...list].sort((a, b) =>
    keyOf(a, keys) < keyOf(b, keys) ? -1 : keyOf(a, keys) > keyOf(b, keys) ? 1 : 0,
  );
}

/**
 * Row-for-row equality: doubles within `tolerance` (relative), everything else (decimals as
 * exact strings, bigints, dates, strings) exactly. Returns the differences, at most 10.
 */
function differences(
  spark: Record<string, unknown>[],
  ts: Record<string, unknown>[],
  keys: readonly string[],
  doubles: readonly string[] = [],
  tolerance = 1e-12,
): string[] {
  const out: string[] = [];
  if (spark.length !== ts.length)
    out.push(`row counts differ: Spark ${spark.length}, TypeScript ${ts.length}`);
  const byKey = new Map(ts.map((r) => [keyOf(r, keys), r]));
  for (const row of spark) {
    const key = keyOf(row, keys);
    const other = byKey.get(key);
    if (!other) {
      out.push(`${key}: only in Spark's output`);
      continue;
    }
    byKey.delete(key);
    for (const column of Object.keys(other)) {
      const a = row[column];
      const b = other[column];
      const same =
        doubles.includes(column) && typeof a === 'number' && typeof b === 'number'
          ? Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b))
          : a instanceof Date && b instanceof Date
            ? a.getTime() === b.getTime()
            : a === b;
      if (!same) out.push(`${key} ${column}: Spark ${String(a)}, TypeScript ${String(b)}`);
    }
  }
  for (const key of byKey.keys()) out.push(`${key}: only in TypeScript's output`);
  return out.slice(0, 10);
}

describe('Spark jobs and TypeScript transforms', () => {
  const work = mkdtempSync(join(tmpdir(), 'tributary-cross-engine-'));
  afterAll(async () => {
    (await jobServer?.catch(() => undefined))?.stop();
    rmSync(work, { recursive: true, force: true });
  });
  // The inputs, each made once and shared by the hive and the Iceberg comparisons (either may run alone).
  const sensorRaw = join(work, 'sensors', 'raw');
  const cryptoOut = join(work, 'crypto');
  let sensorRawZone: Promise<unknown> | undefined;
  let cryptoRawZone: Promise<unknown> | undefined;
  const writeSensorRaw = () => {
    sensorRawZone ??= writeSensorRawZone({
      root: sensorRaw,
      records: 12_000,
      edgeCases: true,
      recordsPerObject: 700,
    });
    return sensorRawZone;
  };
  // Fixtures → PostgreSQL → DMS export (a full load, then CDC) → the TypeScript transforms (hive).
  const writeCryptoRaw = () => {
    // The hive comparison reads the example's own (TypeScript) processed and curated tables.
    cryptoRawZone ??= runCryptoToPostgres({
      out: cryptoOut,
      snapshots: 3,
      coins: 60,
      env: {},
      tableFormat: 'hive',
    });
    return cryptoRawZone;
  };

  describe('sensors', () => {
    const raw = new LocalStorage({ root: sensorRaw });
    const ts = {
      processed: new LocalStorage({ root: join(work, 'sensors', 'ts', 'processed') }),
      curated: new LocalStorage({ root: join(work, 'sensors', 'ts', 'curated') }),
    };
    const spark = {
      processed: new LocalStorage({ root: join(work, 'sensors', 'spark', 'processed') }),
      curated: new LocalStorage({ root: join(work, 'sensors', 'spark', 'curated') }),
    };
    let stats: Awaited<ReturnType<typeof rawToProcessed>>;
    let curatedStats: Awaited<ReturnType<typeof processedToCurated>>;
    let sparkRaw: Record<string, unknown>;
    let sparkCurated: Record<string, unknown>;

    beforeAll(async () => {
      await writeSensorRaw();
      stats = await rawToProcessed({ raw, processed: ts.processed, maxLatenessHours: LATENESS });
      curatedStats = await processedToCurated({ processed: ts.processed, curated: ts.curated });
      const { rawOut, curatedOut } = await runPipelineJobs(
        'sensors',
        { raw: raw.root, processed: spark.processed.root, curated: spark.curated.root },
        'hive',
      );
      sparkRaw = summaryOf(rawOut, 'sensors_raw_to_processed');
      sparkCurated = summaryOf(curatedOut, 'sensors_processed_to_curated');
    }, SETUP_TIMEOUT);

    it('the raw zone exercises every rule: duplicates, errors of each code, several days', () => {
      expect(stats.duplicates).toBeGreaterThan(100);
      expect(stats.outOfWindow).toBeGreaterThan(10);
      expect(stats.invalid).toBeGreaterThan(stats.outOfWindow);
      expect(stats.dates.length).toBeGreaterThan(1);
      expect(stats.unreadObjects.length).toBe(2);
      expect(stats.ignoredObjects.length).toBe(1);
    });

    it('the same objects read, and the same ones reported unread with the same reasons', () => {
      expect(sparkRaw).toEqual({
        job: 'sensors_raw_to_processed',
        files: stats.files,
        unreadObjects: stats.unreadObjects,
        ignoredObjects: stats.ignoredObjects,
      });
    });

    it('processed: the same records in the same dt/hour partitions', async () => {
      const keys = ['id', 'timestamp'];
      const sparkRows = await rows(spark.processed, 'sensors', sensorRecordSchema);
      const tsRows = await rows(ts.processed, 'sensors', sensorRecordSchema);
      expect(tsRows.length).toBe(stats.written);
      expect(differences(sortBy(sparkRows, keys), tsRows, keys)).toEqual([]);
      expect(await partitions(spark.processed, 'sensors')).toEqual(await partitions(ts.processed, 'sensors'));
    });

    it('errors: the same lines, codes and reasons (INVALID_JSON reasons carry each parser’s message)', async () => {
      const schemaRows = (s: Storage) => rows(s, 'sensors_errors', sensorErrorSchema, [byField('dt')]);
      const sparkRows = await schemaRows(spark.processed);
      const tsRows = await schemaRows(ts.processed);
      expect(tsRows.length).toBe(stats.invalid);
      const comparable = (list: Record<string, unknown>[]) =>
        list.map((r) =>
          r.code === 'INVALID_JSON' && String(r.reason).startsWith('not JSON: ')
            ? { ...r, reason: 'not JSON' }
            : r,
        );
      const keys = ['key', 'line'];
      expect(differences(comparable(sparkRows), comparable(tsRows), keys)).toEqual([]);
      expect(new Set(tsRows.map((r) => r.code))).toEqual(
        new Set(['INVALID_UTF8', 'INVALID_JSON', 'INVALID_RECORD', 'OUT_OF_WINDOW']),
      );
    });

    it('curated: the same hourly aggregates (count, anomalies exact; min, max, mean, p95 within 1e-12)', async () => {
      const read = (s: Storage) => rows(s, 'sensor_hourly', curatedHourlySchema, [byField('dt')]);
      const sparkRows = await read(spark.curated);
      const tsRows = await read(ts.curated);
      expect(tsRows.length).toBeGreaterThan(20);
      expect(tsRows.some((r) => (r.anomalies as bigint) > 0n)).toBe(true);
      expect(differences(sparkRows, tsRows, ['dt', 'hour', 'type'], ['min', 'max', 'mean', 'p95'])).toEqual(
        [],
      );
    });

    it('curated: a type the registry lacks is aggregated by both, and counted the same', () => {
      expect(curatedStats.unknownTypes).toEqual([{ type: 'vibration', records: 2 }]);
      expect(sparkCurated).toEqual({
        job: 'sensors_processed_to_curated',
        rows: curatedStats.rows,
        unknownTypes: curatedStats.unknownTypes,
      });
    });
  });

  describe('sensors on Iceberg', () => {
    const raw = new LocalStorage({ root: sensorRaw });
    const ts = {
      processed: new LocalStorage({ root: join(work, 'sensors-iceberg', 'ts', 'processed') }),
      curated: new LocalStorage({ root: join(work, 'sensors-iceberg', 'ts', 'curated') }),
    };
    const spark = {
      processed: new LocalStorage({ root: join(work, 'sensors-iceberg', 'spark', 'processed') }),
      curated: new LocalStorage({ root: join(work, 'sensors-iceberg', 'spark', 'curated') }),
    };
    let stats: Awaited<ReturnType<typeof rawToProcessed>>;

    beforeAll(async () => {
      const problem = sparkIcebergProblem();
      if (problem) throw new Error(problem);
      await writeSensorRaw();
      stats = await rawToProcessed({
        raw,
        processed: ts.processed,
        maxLatenessHours: LATENESS,
        tableFormat: 'iceberg',
      });
      await processedToCurated({ processed: ts.processed, curated: ts.curated, tableFormat: 'iceberg' });
      await runPipelineJobs(
        'sensors',
        { raw: raw.root, processed: spark.processed.root, curated: spark.curated.root },
        'iceberg',
      );
    }, SETUP_TIMEOUT);

    it.each([
      ['processed', 'sensors'],
      ['processed', 'sensors_errors'],
      ['curated', 'sensor_hourly'],
    ] as const)(
      '%s %s: both are Iceberg tables with the same schema and partition spec',
      async (zone, table) => {
        const sparkShape = await icebergShape(spark[zone], table);
        expect(sparkShape).toEqual(await icebergShape(ts[zone], table));
        expect(sparkShape.formatVersion).toBe(2);
        expect(sparkShape.spec).toEqual(
          table === 'sensors' ? [['timestamp_hour', 'hour', 'timestamp']] : [['dt', 'identity', 'dt']],
        );
      },
    );

    it('processed: the same records', async () => {
      const keys = ['id', 'timestamp'];
      const sparkRows = await icebergRows(spark.processed, 'sensors', sensorRecordSchema);
      const tsRows = await icebergRows(ts.processed, 'sensors', sensorRecordSchema);
      expect(tsRows.length).toBe(stats.written);
      expect(differences(sortBy(sparkRows, keys), tsRows, keys)).toEqual([]);
    });

    it('errors: the same lines, codes and reasons', async () => {
      const sparkRows = await icebergRows(spark.processed, 'sensors_errors', sensorErrorSchema);
      const tsRows = await icebergRows(ts.processed, 'sensors_errors', sensorErrorSchema);
      expect(tsRows.length).toBe(stats.invalid);
      const comparable = (list: Record<string, unknown>[]) =>
        list.map((r) =>
          r.code === 'INVALID_JSON' && String(r.reason).startsWith('not JSON: ')
            ? { ...r, reason: 'not JSON' }
            : r,
        );
      expect(differences(comparable(sparkRows), comparable(tsRows), ['key', 'line'])).toEqual([]);
    });

    it('curated: the same hourly aggregates', async () => {
      const sparkRows = await icebergRows(spark.curated, 'sensor_hourly', curatedHourlySchema);
      const tsRows = await icebergRows(ts.curated, 'sensor_hourly', curatedHourlySchema);
      expect(tsRows.length).toBeGreaterThan(20);
      expect(differences(sparkRows, tsRows, ['dt', 'hour', 'type'], ['min', 'max', 'mean', 'p95'])).toEqual(
        [],
      );
    });

    it(
      "Spark reads the lake's processed table and commits the next snapshot of the lake's curated table",
      async () => {
        const before = await snapshotsOf(ts.curated, 'sensor_hourly');
        const tsRows = await icebergRows(ts.curated, 'sensor_hourly', curatedHourlySchema);

        await runJob('sensors_processed_to_curated', [
          '--processed',
          `file://${ts.processed.root}`,
          '--curated',
          `file://${ts.curated.root}`,
          '--table-format',
          'iceberg',
        ]);

        const after = await snapshotsOf(ts.curated, 'sensor_hourly');
        expect(after.chain.slice(0, before.chain.length)).toEqual(before.chain);
        expect(after.chain.length).toBe(before.chain.length + 1);
        expect(after.chain.at(-1)).toEqual({ id: after.current, parent: before.current });
        const sparkRows = await icebergRows(ts.curated, 'sensor_hourly', curatedHourlySchema);
        expect(differences(sparkRows, tsRows, ['dt', 'hour', 'type'], ['min', 'max', 'mean', 'p95'])).toEqual(
          [],
        );
      },
      SETUP_TIMEOUT,
    );
  });

  describe('crypto', () => {
    const out = cryptoOut;
    const ts = {
      processed: new LocalStorage({ root: join(out, 'processed') }),
      curated: new LocalStorage({ root: join(out, 'curated') }),
    };
    const spark = {
      processed: new LocalStorage({ root: join(work, 'crypto-spark', 'processed') }),
      curated: new LocalStorage({ root: join(work, 'crypto-spark', 'curated') }),
    };

    beforeAll(async () => {
      await writeCryptoRaw();
      await runPipelineJobs(
        'crypto',
        { raw: join(out, 'raw'), processed: spark.processed.root, curated: spark.curated.root },
        'hive',
      );
    }, SETUP_TIMEOUT);

    it('processed cryptocurrency: the same latest state, decimals exact', async () => {
      const sparkRows = await rows(spark.processed, PROCESSED_CRYPTOCURRENCY_TABLE, cryptocurrencySchema);
      const tsRows = await rows(ts.processed, PROCESSED_CRYPTOCURRENCY_TABLE, cryptocurrencySchema);
      expect(tsRows.length).toBeGreaterThanOrEqual(60);
      expect(differences(sparkRows, tsRows, ['id'])).toEqual([]);
    });

    it('processed quote: the same history in the same dt partitions', async () => {
      const keys = ['cryptocurrency_id', 'convert', 'last_updated'];
      const sparkRows = await rows(spark.processed, PROCESSED_QUOTE_TABLE, quoteSchema);
      const tsRows = await rows(ts.processed, PROCESSED_QUOTE_TABLE, quoteSchema);
      expect(tsRows.length).toBe(180);
      expect(differences(sparkRows, tsRows, keys)).toEqual([]);
      expect(await partitions(spark.processed, PROCESSED_QUOTE_TABLE)).toEqual(
        await partitions(ts.processed, PROCESSED_QUOTE_TABLE),
      );
    });

    it('curated coin_daily and market_daily: the same rows, decimals exact, percents within 1e-12', async () => {
      const partitionBy = [byField('date', 'dt'), byField('convert')];
      const coin = (s: Storage) => rows(s, COIN_DAILY_TABLE, coinDailySchema, partitionBy);
      const coinTs = await coin(ts.curated);
      expect(coinTs.length).toBe(180);
      expect(coinTs.some((r) => r.rank_change !== null && r.rank_change !== 0)).toBe(true);
      expect(
        differences(await coin(spark.curated), coinTs, ['date', 'cryptocurrency_id', 'convert']),
      ).toEqual([]);

      const market = (s: Storage) => rows(s, MARKET_DAILY_TABLE, marketDailySchema, partitionBy);
      const marketTs = await market(ts.curated);
      expect(marketTs.length).toBe(3);
      const doubles = ['top_coin_dominance', 'top_gainer_change', 'top_loser_change'];
      expect(differences(await market(spark.curated), marketTs, ['date', 'convert'], doubles)).toEqual([]);
    });
  });

  describe('crypto on Iceberg', () => {
    const raw = new LocalStorage({ root: join(cryptoOut, 'raw') });
    const ts = {
      processed: new LocalStorage({ root: join(work, 'crypto-iceberg', 'ts', 'processed') }),
      curated: new LocalStorage({ root: join(work, 'crypto-iceberg', 'ts', 'curated') }),
    };
    const spark = {
      processed: new LocalStorage({ root: join(work, 'crypto-iceberg', 'spark', 'processed') }),
      curated: new LocalStorage({ root: join(work, 'crypto-iceberg', 'spark', 'curated') }),
    };

    beforeAll(async () => {
      const problem = sparkIcebergProblem();
      if (problem) throw new Error(problem);
      await writeCryptoRaw();
      await cryptoRawToProcessed({ raw, processed: ts.processed, tableFormat: 'iceberg' });
      await cryptoProcessedToCurated({
        processed: ts.processed,
        curated: ts.curated,
        tableFormat: 'iceberg',
      });
      await runPipelineJobs(
        'crypto',
        { raw: raw.root, processed: spark.processed.root, curated: spark.curated.root },
        'iceberg',
      );
    }, SETUP_TIMEOUT);

    it.each([
      ['processed', PROCESSED_CRYPTOCURRENCY_TABLE, []],
      ['processed', PROCESSED_QUOTE_TABLE, [['last_updated_day', 'day', 'last_updated']]],
      [
        'curated',
        COIN_DAILY_TABLE,
        [
          ['dt', 'identity', 'date'],
          ['convert', 'identity', 'convert'],
        ],
      ],
      [
        'curated',
        MARKET_DAILY_TABLE,
        [
          ['dt', 'identity', 'date'],
          ['convert', 'identity', 'convert'],
        ],
      ],
    ] as const)(
      '%s %s: both are Iceberg tables with the same schema and partition spec',
      async (zone, table, spec) => {
        const sparkShape = await icebergShape(spark[zone], table);
        expect(sparkShape).toEqual(await icebergShape(ts[zone], table));
        expect(sparkShape.spec).toEqual(spec);
      },
    );

    it('processed cryptocurrency and quote: the same rows, decimals exact', async () => {
      const coins = (s: Storage) => icebergRows(s, PROCESSED_CRYPTOCURRENCY_TABLE, cryptocurrencySchema);
      const coinsTs = await coins(ts.processed);
      expect(coinsTs.length).toBeGreaterThanOrEqual(60);
      expect(differences(await coins(spark.processed), coinsTs, ['id'])).toEqual([]);

      const quotes = (s: Storage) => icebergRows(s, PROCESSED_QUOTE_TABLE, quoteSchema);
      const quotesTs = await quotes(ts.processed);
      expect(quotesTs.length).toBe(180);
      const keys = ['cryptocurrency_id', 'convert', 'last_updated'];
      expect(differences(await quotes(spark.processed), quotesTs, keys)).toEqual([]);
    });

    it('curated coin_daily and market_daily: the same rows, decimals exact, percents within 1e-12', async () => {
      const coin = (s: Storage) => icebergRows(s, COIN_DAILY_TABLE, coinDailySchema);
      const coinTs = await coin(ts.curated);
      expect(coinTs.length).toBe(180);
      expect(
        differences(await coin(spark.curated), coinTs, ['date', 'cryptocurrency_id', 'convert']),
      ).toEqual([]);

      const market = (s: Storage) => icebergRows(s, MARKET_DAILY_TABLE, marketDailySchema);
      const marketTs = await market(ts.curated);
      expect(marketTs.length).toBe(3);
      const doubles = ['top_coin_dominance', 'top_gainer_change', 'top_loser_change'];
      expect(differences(await market(spark.curated), marketTs, ['date', 'convert'], doubles)).toEqual([]);
    });
  });
});

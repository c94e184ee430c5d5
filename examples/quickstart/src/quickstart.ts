import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  COIN_DAILY_TABLE,
  CoinMarketCapClient,
  CRYPTO_CURATED_PARTITIONS,
  coinDailySchema,
  cryptoProcessedToCurated,
  cryptoRawToProcessed,
  exportTables,
  installChangeCapture,
  MARKET_DAILY_TABLE,
  marketDailySchema,
  normalizeListings,
  PostgresStore,
  PROCESSED_CRYPTOCURRENCY_TABLE,
  PROCESSED_QUOTE_TABLE,
} from '@tributary/coinmarketcap';
import { type FixtureServer, startFixtureServer } from '@tributary/coinmarketcap/testing';
import { EventHub, type EventListener, emitSafely, loadConfig } from '@tributary/core';
import {
  crawl,
  type IcebergCatalog,
  type LakeTableFormat,
  type PutTableResult,
  type Storage,
  scanIceberg,
  type TableDefinition,
} from '@tributary/lake';
import {
  builtInSensorTypes,
  curatedHourlySchema,
  generateRecords,
  processedToCurated,
  rawToProcessed,
  sensorDeliveryOptions,
  sensorProducerOptions,
} from '@tributary/sensors';
import { LakeCheckpointStore } from '@tributary/streams';
import { deliverToLake, KinesisProducer, KinesisSource } from '@tributary/streams/kinesis';
import type { LoadResult, Row } from '@tributary/warehouse';
import { CatalogSync, type LakeTable, type Registration } from './catalog-sync.js';
import type { PipelineEnvironment } from './environment.js';
import { invalidOption, QuickstartError } from './errors.js';
import { writeReport as writeReportFile } from './report.js';
import type {
  CoinPriceSeries,
  HourlyAggregate,
  ReportData,
  SensorSeries,
  SnapshotHistoryRun,
  TableFigure,
} from './report-data.js';
import { runSparkJob } from './spark.js';
import { StageTracker } from './stages.js';

/** Default size: a simulated day of 100,000 readings; the whole demo took 27 s on 2 shared cores. */
export const DEFAULT_RECORDS = 100_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
// rawToProcessed accepts at most 30 days of lateness: a replayed day older than that cannot be
// processed (the replay's records all arrive now).
const MAX_LATENESS_HOURS = 24 * 30;
const STATE_FILE = 'quickstart.json';

/** Options of {@link runQuickstart}. */
export interface QuickstartOptions {
  /** The run's folder: the lake (`<out>/lake`), `quickstart.json` and `report.html`. */
  out: string;
  /** `local` (default): the embedded stack; `aws`: `createAwsEnvironment` from `./aws-environment.js`. */
  mode?: 'local' | 'aws';
  /** aws mode: after the run, delete what was provisioned (`--cleanup`). */
  cleanup?: boolean;
  /** `ts` (default): the TypeScript transforms; `spark`: the PySpark jobs of `spark/jobs` on `local[2]`. */
  engine?: 'ts' | 'spark';
  /**
   * The processed and curated tables' format: `iceberg` (default; Apache Iceberg tables, in each
   * zone's own catalog locally and in Glue on AWS) or `hive` (Parquet in `k=v/` folders, cataloged
   * by crawling). The raw zone keeps the Firehose and DMS layouts either way.
   */
  tableFormat?: LakeTableFormat;
  /** Sensor readings over the simulated day, all types together. Default {@link DEFAULT_RECORDS}. */
  records?: number;
  /** Sensors of each built-in type. Default 5. */
  sensorsPerType?: number;
  /** Seed of the sensor signals. Default 42. */
  seed?: number;
  /**
   * The simulated day (its 00:00 UTC). Default: the day recorded in `<out>/quickstart.json` by the
   * first run on `out`, else yesterday; a second run therefore replays the very same records.
   */
  start?: Date;
  /** CoinMarketCap snapshots to load, a day apart (fixtures only). Default 3. */
  snapshots?: number;
  /** Settings (`CMC_API_KEY`, `DATABASE_URL`, AWS settings). Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Run in this environment instead of creating one for `mode`; it is not closed. */
  environment?: PipelineEnvironment;
  /** Times the stages and counts their events (give one to draw progress). Default: a new one. */
  stages?: StageTracker;
  /** Every pipeline event. */
  onEvent?: EventListener;
  /** Lines to show the user (Spark output, skipped stages). Default: none. */
  log?: (line: string) => void;
  /** Abort to stop: the producer is closed, the delivery flushed, the servers stopped. */
  signal?: AbortSignal;
  /** Write `<out>/report.html` when `./report.js` is there. Default `true`. */
  report?: boolean;
}

/** Rows of the three queries on the lake. */
export interface QueryResults {
  /** Mean temperature per UTC hour of the simulated day. */
  hourlyTemperature: { hour: number; mean: number; readings: number }[];
  /** Power-factor readings below 0.8: in total, and per sensor (most dips first). */
  powerFactorDips: {
    total: number;
    bySensor: { sensorId: string; dips: number; lowest: number; first: Date }[];
  };
  /** The top 10 coins by market cap on the last day (USD). */
  topCoins: { rank: number; symbol: string; name: string; price: number; marketCap: number }[];
}

/** What {@link runQuickstart} did. */
export interface QuickstartResult {
  mode: 'local' | 'aws';
  engine: 'ts' | 'spark';
  tableFormat: LakeTableFormat;
  out: string;
  /** The simulated day, `YYYY-MM-DD`. */
  day: string;
  seed: number;
  records: number;
  sensorsPerType: number;
  crypto: {
    source: 'fixtures' | 'coinmarketcap';
    snapshots: number;
    /** Rows written to PostgreSQL over the snapshots. */
    loaded: number;
    exportedFiles: number;
    processed: { cryptocurrencies: number; quotes: number };
    curatedDays: number;
    /** `undefined` when the environment has no warehouse. */
    warehouse: LoadResult[] | undefined;
  };
  sensors: {
    /** Records the stream acknowledged (PutRecords without a failed entry). */
    produced: number;
    /** Records read back from the stream and written to the raw zone's data objects. */
    delivered: number;
    /** Records read back but written under the raw zone's error prefix (not JSON, or failing the schema). */
    errored: number;
    /**
     * Acknowledged records that never reached the raw zone (`produced - delivered - errored`,
     * at least 0). Not 0 means a record was lost between the stream and the lake: the summary
     * says so and the CLI exits with 3 instead of reporting success.
     */
    missing: number;
    rawObjects: number;
    processed: { written: number; duplicates: number; invalid: number };
    curatedRows: number;
    warehouse: LoadResult | undefined;
  };
  queries: QueryResults;
  /** The lake's and the warehouse's tables; an Iceberg table's with its snapshot id and count. */
  tables: TableFigure[];
  /** The Iceberg tables' snapshot counts after each run on this `out`, this run last; empty on hive. */
  snapshotHistory: SnapshotHistoryRun[];
  stages: ReturnType<StageTracker['figures']>;
  /** Where each thing lives (from the environment), plus the report. */
  where: Record<string, string>;
  /** `report.html`'s path, or why it was not written. */
  report: { path: string } | { skipped: string };
  seconds: number;
}

interface Settings {
  out: string;
  mode: 'local' | 'aws';
  engine: 'ts' | 'spark';
  tableFormat: LakeTableFormat;
  records: number;
  sensorsPerType: number;
  seed: number;
  snapshots: number;
  env: Record<string, string | undefined>;
}

function positiveInteger(option: string, value: number | undefined, fallback: number, max: number): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw invalidOption(
      option,
      `${option} must be an integer from 1 to ${max.toLocaleString('en-US')}, got ${String(value)}`,
    );
  }
  return n;
}

function checkOptions(options: QuickstartOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options', 'runQuickstart needs an options object');
  }
  if (typeof options.out !== 'string' || options.out === '') {
    throw invalidOption('out', `out must be a folder path, got ${String(options.out)}`);
  }
  const mode = options.mode ?? 'local';
  if (mode !== 'local' && mode !== 'aws')
    throw invalidOption('mode', `mode must be local or aws, got ${String(mode)}`);
  const engine = options.engine ?? 'ts';
  if (engine !== 'ts' && engine !== 'spark') {
    throw invalidOption('engine', `engine must be ts or spark, got ${String(engine)}`);
  }
  const tableFormat = options.tableFormat ?? 'iceberg';
  if (tableFormat !== 'hive' && tableFormat !== 'iceberg') {
    throw invalidOption('tableFormat', `tableFormat must be hive or iceberg, got ${String(tableFormat)}`);
  }
  const seed = options.seed ?? 42;
  if (!Number.isSafeInteger(seed))
    throw invalidOption('seed', `seed must be an integer, got ${String(seed)}`);
  if (
    options.start !== undefined &&
    (!(options.start instanceof Date) || Number.isNaN(options.start.getTime()))
  ) {
    throw invalidOption('start', 'start must be a valid Date');
  }
  return {
    out: options.out,
    mode,
    engine,
    tableFormat,
    records: positiveInteger('records', options.records, DEFAULT_RECORDS, 10_000_000),
    sensorsPerType: positiveInteger('sensorsPerType', options.sensorsPerType, 5, 1_000),
    seed,
    snapshots: positiveInteger('snapshots', options.snapshots, 3, 30),
    env: options.env ?? process.env,
  };
}

/**
 * The simulated day: the one asked for, else the one the first run on `out` recorded, else
 * yesterday (UTC). Recorded so that later runs replay the same records.
 */
async function simulatedDay(out: string, start: Date | undefined): Promise<Date> {
  const file = join(out, STATE_FILE);
  let day: Date;
  if (start) {
    day = new Date(Math.floor(start.getTime() / DAY_MS) * DAY_MS);
  } else {
    const recorded = await readState(out);
    day = recorded?.day
      ? new Date(`${recorded.day}T00:00:00Z`)
      : new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS);
    if (Number.isNaN(day.getTime()))
      throw invalidOption('start', `${file} holds an invalid day: ${recorded?.day}`);
  }
  const lateness = latenessHours(day);
  if (lateness > MAX_LATENESS_HOURS || day.getTime() + DAY_MS > Date.now()) {
    throw invalidOption(
      'start',
      `The simulated day ${isoDay(day)} must be over and at most ${MAX_LATENESS_HOURS / 24 - 2} days ago: its records are replayed now, and the processed zone takes records at most ${MAX_LATENESS_HOURS} h late. Pass --start with a recent day, or use a new --out.`,
    );
  }
  await mkdir(out, { recursive: true });
  await writeState(out, { ...(await readState(out)), day: isoDay(day) });
  return day;
}

/** What `<out>/quickstart.json` keeps between runs: the simulated day and the Iceberg snapshot history. */
interface QuickstartState {
  day?: string;
  snapshotHistory?: SnapshotHistoryRun[];
}

async function readState(out: string): Promise<QuickstartState | undefined> {
  return readFile(join(out, STATE_FILE), 'utf8').then(
    (text) => JSON.parse(text) as QuickstartState,
    () => undefined,
  );
}

async function writeState(out: string, state: QuickstartState): Promise<void> {
  await writeFile(join(out, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

function latenessHours(day: Date): number {
  // Every replayed record arrives now: allow as much lateness as the day is old.
  return Math.ceil((Date.now() - day.getTime()) / HOUR_MS) + 1;
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** What the environment's engine returns for numbers (bigint for count, exact text for decimals). */
function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') return Number(value);
  return Number.NaN;
}

/**
 * `pnpm demo`: both pipelines end to end, then the queries, the summary's figures and
 * `report.html`.
 *
 * 1. crypto: CoinMarketCap (bundled fixtures on loopback, or the live API with `CMC_API_KEY`) →
 *    PostgreSQL → DMS-style export into the raw zone → processed → curated → warehouse (merge).
 * 2. sensors: the three built-in fleets for a simulated day → Kinesis → 60 s-buffered delivery into
 *    the raw zone → catalog → processed Parquet → curated hourly aggregates → warehouse (merge).
 * 3. queries on the lake: hourly mean temperature, power-factor dips, top 10 coins by market cap.
 *
 * A second run on the same `out` gives the same rows in the processed, curated and warehouse
 * tables: the same simulated day and seed give the same record ids, the processed zone
 * deduplicates on them, partitions are overwritten and the warehouse loads merge. The raw zone
 * is a landing zone and keeps every delivery.
 *
 * @example
 * ```ts
 * const result = await runQuickstart({ out: '.tributary/demo', records: 10_000 });
 * console.log(result.tables, result.queries.topCoins);
 * ```
 */
export async function runQuickstart(options: QuickstartOptions): Promise<QuickstartResult> {
  const settings = checkOptions(options);
  const started = performance.now();
  options.signal?.throwIfAborted();
  const start = await simulatedDay(settings.out, options.start);
  const environment = options.environment ?? (await createEnvironment(settings, options.log, options.signal));
  try {
    return await runPipelines(environment, settings, start, options, started);
  } finally {
    try {
      if (options.cleanup) await cleanup(environment, options.log);
    } finally {
      if (!options.environment) await environment.close();
    }
  }
}

/** `--cleanup`: remove what aws mode provisioned (stream, delivery stream, Glue tables and database, buckets). */
async function cleanup(env: PipelineEnvironment, log: ((line: string) => void) | undefined): Promise<void> {
  const teardown = (env as PipelineEnvironment & { cleanup?: () => Promise<unknown> }).cleanup;
  if (env.mode !== 'aws' || typeof teardown !== 'function') {
    log?.('cleanup: nothing to remove in local mode (delete the --out folder instead)');
    return;
  }
  const report = await teardown.call(env);
  log?.(`cleanup: ${JSON.stringify(report)}`);
}

async function createEnvironment(
  settings: Settings,
  log: ((line: string) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<PipelineEnvironment> {
  if (settings.mode === 'local') {
    const { createLocalEnvironment } = await import('./local-environment.js');
    return createLocalEnvironment({ out: settings.out, env: settings.env });
  }
  let module: { createAwsEnvironment?: (options: Record<string, unknown>) => Promise<PipelineEnvironment> };
  try {
    // Written separately (it needs the AWS SDK clients); loaded only in aws mode.
    module = await import(/* @vite-ignore */ ['.', 'aws-environment.js'].join('/'));
  } catch (err) {
    throw new QuickstartError('--mode aws needs src/aws-environment.ts, which this checkout does not have', {
      code: 'QUICKSTART_UNAVAILABLE',
      cause: err,
    });
  }
  if (typeof module.createAwsEnvironment !== 'function') {
    throw new QuickstartError('src/aws-environment.ts does not export createAwsEnvironment', {
      code: 'QUICKSTART_UNAVAILABLE',
    });
  }
  // Provisions what is missing (stream, buckets, Glue database) and says so line by line.
  return module.createAwsEnvironment({
    env: { ...settings.env, TRIBUTARY_MODE: 'aws' },
    ...(log ? { onStep: log } : {}),
    ...(signal ? { signal } : {}),
  });
}

async function runPipelines(
  env: PipelineEnvironment,
  settings: Settings,
  start: Date,
  options: QuickstartOptions,
  started: number,
): Promise<QuickstartResult> {
  const stages = options.stages ?? new StageTracker();
  const hub = new EventHub();
  hub.on(stages.listener);
  if (options.onEvent) hub.on(options.onEvent);
  const signal = options.signal;
  const log = options.log ?? (() => {});
  const day = isoDay(start);

  // Every table's partitions reach the catalog as they are written: after each commit of a
  // transform, and after each flush of the delivery into a new hour folder.
  const catalog = new CatalogSync(env.catalog, signal);
  const crypto = await runCrypto(env, settings, stages, hub, log, catalog, signal);
  signal?.throwIfAborted();
  const sensors = await runSensors(env, settings, start, stages, hub, log, catalog, signal);
  signal?.throwIfAborted();

  const tables = await stages.run(
    'queries',
    'lake → catalog',
    () => catalogTables(env, settings, catalog, log, signal),
    (t) => ({ records: t.reduce((n, d) => n + (d.rows ?? 0), 0), bytes: t.reduce((n, d) => n + d.bytes, 0) }),
  );
  const queries = await stages.run(
    'queries',
    'SQL on the lake',
    () => runQueries(env, settings.tableFormat, day, signal),
    (q) => ({
      records: q.hourlyTemperature.length + q.powerFactorDips.bySensor.length + q.topCoins.length,
      bytes: 0,
    }),
  );
  const loads = [...(crypto.warehouse ?? []), ...(sensors.warehouse ? [sensors.warehouse] : [])];
  const figures = await tableFigures(env, tables, loads, signal);
  const snapshotHistory = await recordSnapshots(settings.out, figures);

  const result: QuickstartResult = {
    mode: env.mode,
    engine: settings.engine,
    tableFormat: settings.tableFormat,
    out: settings.out,
    day,
    seed: settings.seed,
    records: settings.records,
    sensorsPerType: settings.sensorsPerType,
    crypto,
    sensors,
    queries,
    tables: figures,
    snapshotHistory,
    stages: stages.figures(),
    where: { ...env.describe() },
    report: { skipped: 'not asked for' },
    seconds: 0,
  };
  if (options.report !== false) {
    // The run's time as the report shows it: everything but writing the report itself.
    result.seconds = (performance.now() - started) / 1000;
    result.report = await writeReport(env, result, day, signal);
    if ('path' in result.report) result.where.report = result.report.path;
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

// ---------------------------------------------------------------------------------------------
// crypto
// ---------------------------------------------------------------------------------------------

async function runCrypto(
  env: PipelineEnvironment,
  settings: Settings,
  stages: StageTracker,
  hub: EventHub,
  log: (line: string) => void,
  catalog: CatalogSync,
  signal: AbortSignal | undefined,
): Promise<QuickstartResult['crypto']> {
  const config = loadConfig({ ...settings.env, TRIBUTARY_MODE: 'local', TRIBUTARY_LAKE_DIR: settings.out });
  const live = config.coinmarketcap.apiKey !== undefined;
  const snapshots = live ? 1 : settings.snapshots;
  const { lake, sourcePool: pool } = env;
  let fixtures: FixtureServer | undefined;
  let loaded = 0;
  let exportedFiles = 0;
  try {
    fixtures = live ? undefined : await startFixtureServer();
    const client = live
      ? new CoinMarketCapClient({
          apiKey: config.coinmarketcap.apiKey,
          sandbox: config.coinmarketcap.sandbox,
          ...(config.coinmarketcap.baseUrl ? { baseUrl: config.coinmarketcap.baseUrl } : {}),
        })
      : new CoinMarketCapClient({ baseUrl: fixtures?.baseUrl, apiKey: 'fixture' });
    const store = new PostgresStore({ pool, onEvent: hub.emit });
    await store.init();
    await installChangeCapture(pool);
    for (let snapshot = 0; snapshot < snapshots; snapshot++) {
      signal?.throwIfAborted();
      fixtures?.setSnapshot(snapshot);
      const rows = await stages.run(
        'crypto',
        `${live ? 'CoinMarketCap API' : 'CoinMarketCap fixtures'} → PostgreSQL`,
        async () => {
          const listings = [];
          for await (const page of client.listingsAll({ pageSize: 100, convert: 'USD' })) {
            listings.push(...page.data);
          }
          const result = await store.load(normalizeListings(listings, { convert: 'USD' }), {
            source: live ? 'coinmarketcap' : 'fixtures',
          });
          return result.rows;
        },
        (n) => ({ records: n }),
      );
      loaded += rows;
      signal?.throwIfAborted();
      // The first export of a run is a full load; later ones carry the changes (Op I/U/D).
      const exports = await stages.run(
        'crypto',
        'PostgreSQL → raw (DMS export)',
        () => exportTables({ pool, storage: lake.raw, mode: snapshot === 0 ? 'full' : 'cdc' }),
        (e) => ({ records: e.reduce((n, t) => n + t.rows, 0) }),
      );
      exportedFiles += exports.reduce((n, e) => n + e.keys.length, 0);
      for (const e of exports) {
        emitSafely(hub.emit, {
          type: 'records.out',
          source: `dms-export:${e.table}`,
          count: e.rows,
          time: Date.now(),
        });
      }
    }
  } finally {
    await fixtures?.stop();
  }

  signal?.throwIfAborted();
  const processed = await stages.run(
    'crypto',
    'raw → processed',
    () =>
      committed(
        catalog,
        log,
        hiveOnly(settings, [
          { storage: lake.processed, folder: PROCESSED_CRYPTOCURRENCY_TABLE, name: 'cryptocurrency' },
          { storage: lake.processed, folder: PROCESSED_QUOTE_TABLE, name: 'quote' },
        ]),
        async () => {
          if (settings.engine === 'spark') {
            await runSparkJob({
              job: 'crypto_raw_to_processed',
              args: ['--raw', lake.raw.url, '--processed', lake.processed.url],
              tableFormat: settings.tableFormat,
              signal,
              onLine: log,
            });
            const [cryptocurrencies, quotes] = await Promise.all([
              tableRows(env, settings, 'processed', PROCESSED_CRYPTOCURRENCY_TABLE, signal),
              tableRows(env, settings, 'processed', PROCESSED_QUOTE_TABLE, signal),
            ]);
            return { cryptocurrencies, quotes };
          }
          const r = await cryptoRawToProcessed({
            raw: lake.raw,
            processed: lake.processed,
            ...tableFormatOf(env, settings, 'processed'),
          });
          return { cryptocurrencies: r.cryptocurrencies, quotes: r.quotes };
        },
      ),
    (r) => ({ records: r.cryptocurrencies + r.quotes }),
  );
  emitSafely(hub.emit, {
    type: 'records.out',
    source: 'crypto-transform',
    count: processed.cryptocurrencies + processed.quotes,
    time: Date.now(),
  });

  signal?.throwIfAborted();
  const curated = await stages.run(
    'crypto',
    'processed → curated',
    () =>
      committed(
        catalog,
        log,
        hiveOnly(settings, [
          { storage: lake.curated, folder: COIN_DAILY_TABLE, name: 'coin_daily' },
          { storage: lake.curated, folder: MARKET_DAILY_TABLE, name: 'market_daily' },
        ]),
        async () => {
          if (settings.engine === 'spark') {
            await runSparkJob({
              job: 'crypto_processed_to_curated',
              args: ['--processed', lake.processed.url, '--curated', lake.curated.url],
              tableFormat: settings.tableFormat,
              signal,
              onLine: log,
            });
            if (settings.tableFormat === 'iceberg') {
              const catalog = env.icebergCatalog('curated');
              const scan = await scanIceberg({
                storage: lake.curated,
                table: COIN_DAILY_TABLE,
                ...(catalog ? { catalog } : {}),
              });
              return {
                coinDays: scan.files.reduce((n, f) => n + f.rows, 0),
                days: [...new Set(scan.files.map((f) => f.partition.dt ?? ''))],
              };
            }
            const coinDaily = await crawl(lake.curated, COIN_DAILY_TABLE, { signal });
            return {
              coinDays: coinDaily.rows ?? 0,
              days: [...new Set(coinDaily.partitions.map((p) => p.values[0] ?? ''))],
            };
          }
          const processedCatalog = env.icebergCatalog('processed');
          const r = await cryptoProcessedToCurated({
            processed: lake.processed,
            curated: lake.curated,
            ...tableFormatOf(env, settings, 'curated'),
            ...(settings.tableFormat === 'iceberg' && processedCatalog ? { processedCatalog } : {}),
          });
          return { coinDays: r.coinDays, days: [...r.days] };
        },
      ),
    (r) => ({ records: r.coinDays }),
  );

  signal?.throwIfAborted();
  const warehouse = env.loader
    ? await stages.run(
        'crypto',
        'curated → warehouse',
        async () => {
          const loader = env.loader as NonNullable<PipelineEnvironment['loader']>;
          const results: LoadResult[] = [];
          const load = { mode: 'merge', signal, onEvent: hub.emit } as const;
          results.push(
            await loader.load(
              { schema: 'analytics', name: COIN_DAILY_TABLE },
              {
                storage: lake.curated,
                table: COIN_DAILY_TABLE,
                schema: coinDailySchema,
                ...curatedSource(env, settings),
              },
              load,
            ),
          );
          results.push(
            await loader.load(
              { schema: 'analytics', name: MARKET_DAILY_TABLE },
              {
                storage: lake.curated,
                table: MARKET_DAILY_TABLE,
                schema: marketDailySchema,
                ...curatedSource(env, settings),
              },
              load,
            ),
          );
          return results;
        },
        (r) => ({ records: r.reduce((n, l) => n + l.rows, 0), bytes: r.reduce((n, l) => n + l.bytes, 0) }),
      )
    : skipWarehouse(log);

  return {
    source: live ? 'coinmarketcap' : 'fixtures',
    snapshots,
    loaded,
    exportedFiles,
    processed,
    curatedDays: curated.days.length,
    warehouse,
  };
}

/** The lake options of a transform's or a loader's table in `zone`: its format and, on AWS, its Glue Iceberg catalog. */
function tableFormatOf(
  env: PipelineEnvironment,
  settings: Settings,
  zone: 'processed' | 'curated',
): { tableFormat: LakeTableFormat; catalog?: IcebergCatalog } {
  const catalog = settings.tableFormat === 'iceberg' ? env.icebergCatalog(zone) : undefined;
  return catalog ? { tableFormat: settings.tableFormat, catalog } : { tableFormat: settings.tableFormat };
}

/** How the warehouse loads read a curated crypto table. */
function curatedSource(env: PipelineEnvironment, settings: Settings) {
  return settings.tableFormat === 'iceberg'
    ? tableFormatOf(env, settings, 'curated')
    : // The Spark jobs write no manifest: say how dt=/convert= map to the fields.
      { partitionBy: CRYPTO_CURATED_PARTITIONS };
}

/**
 * The tables a stage registers by crawling: hive tables only. An Iceberg table is in its catalog
 * from its first commit (its zone's metadata locally, Glue on AWS), with no partitions to add.
 */
function hiveOnly(settings: Settings, tables: LakeTable[]): LakeTable[] {
  return settings.tableFormat === 'iceberg' ? [] : tables;
}

/** Rows of a table a Spark job wrote: its current Iceberg snapshot's, or the crawled files'. */
async function tableRows(
  env: PipelineEnvironment,
  settings: Settings,
  zone: 'processed' | 'curated',
  table: string,
  signal: AbortSignal | undefined,
): Promise<number> {
  const storage = env.lake.zone(zone);
  if (settings.tableFormat === 'hive') return (await crawl(storage, table, { signal })).rows ?? 0;
  const catalog = env.icebergCatalog(zone);
  const scan = await scanIceberg({ storage, table, ...(catalog ? { catalog } : {}) });
  return scan.files.reduce((n, f) => n + f.rows, 0);
}

function skipWarehouse(log: (line: string) => void): undefined {
  log('warehouse: skipped, the environment has no warehouse configured (aws mode without REDSHIFT_URL)');
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// sensors
// ---------------------------------------------------------------------------------------------

async function runSensors(
  env: PipelineEnvironment,
  settings: Settings,
  start: Date,
  stages: StageTracker,
  hub: EventHub,
  log: (line: string) => void,
  catalog: CatalogSync,
  signal: AbortSignal | undefined,
): Promise<QuickstartResult['sensors']> {
  const { lake } = env;
  const { client, streamName } = env.kinesis;
  const day = isoDay(start);
  // The fleet's last readings can fall just past midnight: the next day is processed too.
  const days = [day, isoDay(new Date(start.getTime() + DAY_MS))];

  const streamed = await stages.run(
    'sensors',
    'fleets → Kinesis → raw (60 s buffer)',
    async () => {
      const producer = new KinesisProducer({
        client,
        streamName,
        ...sensorProducerOptions,
        // kinesalite never throttles; on AWS keep the default per-shard limits.
        rateLimit: env.mode === 'local' ? false : undefined,
        onEvent: hub.emit,
      });
      // Sequence numbers of an earlier run's stream mean nothing to this one (a new kinesalite
      // each run): each run checkpoints in a folder of its own and reads from the start.
      const runId = Date.now().toString(36);
      const source = new KinesisSource({
        client,
        streamName,
        checkpoints: new LakeCheckpointStore({ storage: lake.raw, prefix: `_checkpoints/${runId}/` }),
        stopWhenIdle: true,
        idleTimeoutMs: 1_500,
        pollIntervalMs: 200,
        onEvent: hub.emit,
      });
      // Produce and deliver at the same time, as the two sides of a stream do. The delivery gets
      // no abort signal: on Ctrl-C the producer stops and the delivery drains and flushes what
      // reached the stream.
      // Each flush into a new hour folder registers that partition in the catalog.
      const rawTable = catalog.follow({ storage: lake.raw, folder: 'sensors', name: 'raw_sensors' }, (r) =>
        logRegistration(log, 'raw_sensors', r),
      );
      const delivering = deliverToLake({
        source,
        storage: lake.raw,
        ...sensorDeliveryOptions,
        streamName,
        bufferIntervalMs: 60_000,
        bufferBytes: 1024 * 1024,
        onEvent: (event) => {
          hub.emit(event);
          rawTable.listener(event);
        },
      });
      // A delivery failure must stop the producer rather than wait for it.
      let deliveryFailed: unknown;
      delivering.catch((err: unknown) => {
        deliveryFailed = err;
      });
      const fleet = generateRecords({
        sensorsPerType: settings.sensorsPerType,
        seed: settings.seed,
        start,
        ratePerSecond: settings.records / (DAY_MS / 1000),
        records: settings.records,
        anomalies: { spikeRate: 0.002, stuckRate: 0.001, dropoutRate: 0.001 },
      });
      let produceError: unknown;
      try {
        for (const record of fleet) {
          if (signal?.aborted || deliveryFailed !== undefined) break;
          await producer.put(record);
        }
      } catch (err) {
        produceError = err;
      }
      const sent = await producer.close();
      const delivered = await delivering;
      await rawTable.settle();
      if (produceError !== undefined) throw produceError;
      if (signal?.aborted) {
        throw new QuickstartError(
          `Interrupted while producing: ${sent.sent.toLocaleString('en-US')} records were sent and ${delivered.recordsDelivered.toLocaleString('en-US')} delivered into ${delivered.objects} raw objects under ${lake.raw.url}/sensors/, which are kept`,
          {
            code: 'QUICKSTART_INTERRUPTED',
            cause: signal.reason,
            context: { delivered: delivered.recordsDelivered },
          },
        );
      }
      const missing = Math.max(0, sent.sent - delivered.recordsDelivered - delivered.recordsFailed);
      if (missing > 0) {
        log(
          `sensors: ${missing.toLocaleString('en-US')} of ${sent.sent.toLocaleString('en-US')} records the stream acknowledged never reached the raw zone`,
        );
      }
      return {
        produced: sent.sent,
        delivered: delivered.recordsDelivered,
        errored: delivered.recordsFailed,
        missing,
        rawObjects: delivered.objects,
        bytes: delivered.bytes,
      };
    },
    (r) => ({ records: r.delivered, bytes: r.bytes }),
  );

  signal?.throwIfAborted();
  await stages.run(
    'sensors',
    'raw → catalog',
    async () => {
      const [raw] = await registerTables(catalog, log, [
        { storage: lake.raw, folder: 'sensors', name: 'raw_sensors' },
      ]);
      return raw?.definition as TableDefinition;
    },
    (t) => ({ records: t.files, bytes: t.bytes }),
  );

  signal?.throwIfAborted();
  const lateness = latenessHours(start);
  const processed = await stages.run(
    'sensors',
    'raw → processed (Parquet)',
    () =>
      committed(
        catalog,
        log,
        hiveOnly(settings, [{ storage: lake.processed, folder: 'sensors', name: 'sensors' }]),
        async () => {
          if (settings.engine === 'spark') {
            await runSparkJob({
              job: 'sensors_raw_to_processed',
              args: [
                '--raw',
                lake.raw.url,
                '--processed',
                lake.processed.url,
                '--max-lateness-hours',
                String(lateness),
                '--dates',
                ...days,
              ],
              tableFormat: settings.tableFormat,
              signal,
              onLine: log,
            });
            const written = await tableRows(env, settings, 'processed', 'sensors', signal);
            return { written, duplicates: Number.NaN, invalid: Number.NaN };
          }
          const r = await rawToProcessed({
            raw: lake.raw,
            processed: lake.processed,
            dates: days,
            maxLatenessHours: lateness,
            ...tableFormatOf(env, settings, 'processed'),
            onEvent: hub.emit,
          });
          return { written: r.written, duplicates: r.duplicates, invalid: r.invalid };
        },
      ),
    (r) => ({ records: r.written }),
  );

  signal?.throwIfAborted();
  const curatedRows = await stages.run(
    'sensors',
    'processed → curated (hourly)',
    () =>
      committed(
        catalog,
        log,
        hiveOnly(settings, [{ storage: lake.curated, folder: 'sensor_hourly', name: 'sensor_hourly' }]),
        async () => {
          if (settings.engine === 'spark') {
            await runSparkJob({
              job: 'sensors_processed_to_curated',
              args: ['--processed', lake.processed.url, '--curated', lake.curated.url, '--dates', ...days],
              tableFormat: settings.tableFormat,
              signal,
              onLine: log,
            });
            return tableRows(env, settings, 'curated', 'sensor_hourly', signal);
          }
          const processedCatalog = env.icebergCatalog('processed');
          const r = await processedToCurated({
            processed: lake.processed,
            curated: lake.curated,
            dates: days,
            ...tableFormatOf(env, settings, 'curated'),
            ...(settings.tableFormat === 'iceberg' && processedCatalog ? { processedCatalog } : {}),
            onEvent: hub.emit,
          });
          return r.rows;
        },
      ),
    (rows) => ({ records: rows }),
  );

  signal?.throwIfAborted();
  const warehouse = env.loader
    ? await stages.run(
        'sensors',
        'curated → warehouse',
        () =>
          (env.loader as NonNullable<PipelineEnvironment['loader']>).load(
            { schema: 'analytics', name: 'sensor_hourly' },
            {
              storage: lake.curated,
              table: 'sensor_hourly',
              schema: curatedHourlySchema,
              ...tableFormatOf(env, settings, 'curated'),
            },
            { mode: 'merge', signal, onEvent: hub.emit },
          ),
        (r) => ({ records: r.rows, bytes: r.bytes }),
      )
    : skipWarehouse(log);

  return {
    produced: streamed.produced,
    delivered: streamed.delivered,
    errored: streamed.errored,
    missing: streamed.missing,
    rawObjects: streamed.rawObjects,
    processed,
    curatedRows,
    warehouse,
  };
}

// ---------------------------------------------------------------------------------------------
// catalog, queries, figures
// ---------------------------------------------------------------------------------------------

/** The lake tables the summary and the queries use: [zone, folder, catalog name]. */
const LAKE_TABLES = [
  ['raw', 'sensors', 'raw_sensors'],
  ['processed', 'sensors', 'sensors'],
  ['processed', PROCESSED_CRYPTOCURRENCY_TABLE, 'cryptocurrency'],
  ['processed', PROCESSED_QUOTE_TABLE, 'quote'],
  ['curated', 'sensor_hourly', 'sensor_hourly'],
  ['curated', COIN_DAILY_TABLE, 'coin_daily'],
  ['curated', MARKET_DAILY_TABLE, 'market_daily'],
] as const;

/** A lake table as the summary counts it. */
interface Cataloged {
  zone: string;
  folder: string;
  name: string;
  /** Rows the catalog knows of (Parquet footers, the Iceberg snapshot); `undefined` for text files. */
  rows: number | undefined;
  files: number;
  bytes: number;
  format: LakeTableFormat;
  snapshotId?: string;
  snapshots?: number;
}

/** An engine that can show an Iceberg snapshot as a view (DuckDB); Athena reads Glue's Iceberg tables itself. */
interface IcebergViews {
  registerIcebergTable(options: {
    storage: Storage;
    table: string;
    name: string;
    catalog?: IcebergCatalog;
    snapshotId?: string;
  }): Promise<{ snapshotId: string | undefined }>;
}

function hasIcebergViews(engine: unknown): engine is IcebergViews {
  return typeof (engine as Partial<IcebergViews>).registerIcebergTable === 'function';
}

/**
 * Make every table queryable on the engine. A hive table is crawled into the catalog once more
 * (its partitions are there already, registered as they were written: this finds them existing).
 * An Iceberg table is in its catalog since its first commit: DuckDB gets a view over its current
 * snapshot's files; Athena reads it from Glue.
 */
async function catalogTables(
  env: PipelineEnvironment,
  settings: Settings,
  catalog: CatalogSync,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<Cataloged[]> {
  const tables: Cataloged[] = [];
  for (const [zone, folder, name] of LAKE_TABLES) {
    signal?.throwIfAborted();
    const storage = env.lake.zone(zone);
    if (zone !== 'raw' && settings.tableFormat === 'iceberg') {
      const icebergCatalog = env.icebergCatalog(zone);
      const scan = await scanIceberg({
        storage,
        table: folder,
        ...(icebergCatalog ? { catalog: icebergCatalog } : {}),
      });
      const snapshotId = scan.snapshot ? String(scan.snapshot['snapshot-id']) : undefined;
      if (hasIcebergViews(env.engine)) {
        // The view shows the snapshot just counted, whatever is committed later.
        await env.engine.registerIcebergTable({
          storage,
          table: folder,
          name,
          ...(icebergCatalog ? { catalog: icebergCatalog } : {}),
          ...(snapshotId ? { snapshotId } : {}),
        });
      }
      log(
        `catalog: ${name} (iceberg), snapshot ${snapshotId ?? 'none'} of ${scan.metadata.snapshots?.length ?? 0}`,
      );
      tables.push({
        zone,
        folder,
        name,
        rows: scan.files.reduce((n, f) => n + f.rows, 0),
        files: scan.files.length,
        bytes: scan.files.reduce((n, f) => n + f.bytes, 0),
        format: 'iceberg',
        ...(snapshotId ? { snapshotId } : {}),
        snapshots: scan.metadata.snapshots?.length ?? 0,
      });
      continue;
    }
    const [registered] = await registerTables(catalog, log, [{ storage, folder, name }]);
    const definition = registered?.definition as TableDefinition;
    await env.engine.registerTable(definition);
    tables.push({
      zone,
      folder,
      name,
      rows: definition.rows,
      files: definition.files,
      bytes: definition.bytes,
      format: 'hive',
    });
  }
  return tables;
}

/**
 * Put tables with their partitions in the catalog. Every table of the pipelines is partitioned
 * (hive `k=v` folders, or the delivery's `YYYY/MM/DD/HH`) and gets its partitions registered as
 * they are written; a table whose Glue parameters enable partition projection gets none (the
 * catalog reports it projected). See examples/aws/README.md.
 */
async function registerTables(
  catalog: CatalogSync,
  log: (line: string) => void,
  tables: readonly LakeTable[],
): Promise<Registration[]> {
  const done: Registration[] = [];
  for (const table of tables) {
    const registration = await catalog.register(table);
    logRegistration(log, table.name, registration.result);
    done.push(registration);
  }
  return done;
}

/** Run a stage's work, then register the tables it committed, with their new partitions. */
async function committed<T>(
  catalog: CatalogSync,
  log: (line: string) => void,
  tables: readonly LakeTable[],
  work: () => Promise<T>,
): Promise<T> {
  const result = await work();
  await registerTables(catalog, log, tables);
  return result;
}

function logRegistration(log: (line: string) => void, name: string, result: PutTableResult): void {
  const { added, existing, projected } = result.partitions;
  log(
    projected
      ? `catalog: ${name} (${result.action}), partitions projected`
      : `catalog: ${name} (${result.action}), ${added} partition(s) registered, ${existing} already there`,
  );
}

async function rows(
  env: PipelineEnvironment,
  sql: string,
  params: unknown[],
  signal?: AbortSignal,
): Promise<Row[]> {
  const result = await env.engine
    .query(sql, { params: params as never, ...(signal ? { signal } : {}) })
    .collect();
  return result.rows;
}

/**
 * The SQL that differs between the formats: a hive table's partition columns (`dt`, `hour`) are
 * columns of the catalog's table; an Iceberg table's partitions are hidden, computed from its
 * columns (`hour(timestamp)`; `coin_daily`'s `dt` is its `date` column).
 */
function sqlOf(format: LakeTableFormat) {
  return format === 'iceberg'
    ? {
        sensorsDay: `CAST("timestamp" AS date) = CAST(? AS date)`,
        sensorsHour: `hour("timestamp")`,
        coinDay: (alias: string) => `CAST(${alias}"date" AS varchar)`,
      }
    : {
        sensorsDay: `CAST(dt AS varchar) = ?`,
        sensorsHour: `CAST(hour AS integer)`,
        coinDay: (alias: string) => `CAST(${alias}dt AS varchar)`,
      };
}

async function runQueries(
  env: PipelineEnvironment,
  format: LakeTableFormat,
  day: string,
  signal?: AbortSignal,
): Promise<QueryResults> {
  const sql = sqlOf(format);
  const hourly = await rows(
    env,
    `SELECT ${sql.sensorsHour} AS hour, avg(value) AS mean, count(*) AS readings
       FROM sensors WHERE type = ? AND ${sql.sensorsDay}
      GROUP BY 1 ORDER BY 1`,
    ['temperature', day],
    signal,
  );
  const [total] = await rows(
    env,
    `SELECT count(*) AS n FROM sensors WHERE type = ? AND value < 0.8 AND ${sql.sensorsDay}`,
    ['power_factor', day],
    signal,
  );
  const dips = await rows(
    env,
    `SELECT sensorid AS sensor_id, count(*) AS dips, min(value) AS lowest, min("timestamp") AS first
       FROM sensors WHERE type = ? AND value < 0.8 AND ${sql.sensorsDay}
      GROUP BY sensorid ORDER BY dips DESC, sensor_id LIMIT 10`,
    ['power_factor', day],
    signal,
  );
  const top = await rows(
    env,
    `SELECT d.rank AS rank, c.symbol AS symbol, c.name AS name, d.close AS price, d.market_cap AS market_cap
       FROM coin_daily d JOIN cryptocurrency c ON c.id = d.cryptocurrency_id
      WHERE d.convert = ? AND ${sql.coinDay('d.')} = (SELECT max(${sql.coinDay('')}) FROM coin_daily)
      ORDER BY d.rank LIMIT 10`,
    ['USD'],
    signal,
  );
  return {
    hourlyTemperature: hourly.map((r) => ({
      hour: num(r.hour),
      mean: num(r.mean),
      readings: num(r.readings),
    })),
    powerFactorDips: {
      total: num(total?.n),
      bySensor: dips.map((r) => ({
        sensorId: String(r.sensor_id),
        dips: num(r.dips),
        lowest: num(r.lowest),
        first: r.first as Date,
      })),
    },
    topCoins: top.map((r) => ({
      rank: num(r.rank),
      symbol: String(r.symbol),
      name: String(r.name),
      price: num(r.price),
      marketCap: num(r.market_cap),
    })),
  };
}

async function tableFigures(
  env: PipelineEnvironment,
  tables: Cataloged[],
  loads: readonly LoadResult[],
  signal?: AbortSignal,
): Promise<TableFigure[]> {
  const figures: TableFigure[] = [];
  // The DMS export's CSV files mix full loads and CDC files (with an `Op` column), so they are
  // counted here rather than cataloged: records are lines after each file's header.
  const raw = new Map<string, { rows: number; files: number; bytes: number }>();
  for await (const object of env.lake.raw.list('coinmarketcap/coinmarketcap/')) {
    const table = object.key.split('/')[2];
    if (!table || table.startsWith('_') || !object.key.endsWith('.csv')) continue;
    signal?.throwIfAborted();
    const t = raw.get(table) ?? { rows: 0, files: 0, bytes: 0 };
    t.files++;
    t.bytes += object.size;
    t.rows += Math.max(0, (await countLines(env.lake.raw.get(object.key))) - 1);
    raw.set(table, t);
  }
  for (const [table, t] of [...raw].sort((a, b) => a[0].localeCompare(b[0]))) {
    figures.push({ zone: 'raw', table: `coinmarketcap/${table}`, ...t });
  }
  for (const table of tables) {
    const [count] = await rows(env, `SELECT count(*) AS n FROM ${table.name}`, [], signal);
    // An engine that answers no count (Athena emulators run no SQL) leaves the crawler's figure:
    // exact for Parquet (footers), unknown (0) for text files.
    const counted = num(count?.n);
    figures.push({
      zone: table.zone,
      table: table.folder,
      rows: Number.isFinite(counted) ? counted : (table.rows ?? 0),
      files: table.files,
      bytes: table.bytes,
      ...(table.format === 'iceberg'
        ? {
            format: 'iceberg' as const,
            snapshots: table.snapshots ?? 0,
            ...(table.snapshotId ? { snapshotId: table.snapshotId } : {}),
          }
        : table.zone === 'raw'
          ? {}
          : { format: 'hive' as const }),
    });
  }
  for (const load of loads) {
    // The table's own row count where the warehouse can be asked (locally it is the source
    // PostgreSQL); otherwise the rows the merge read.
    let n = load.rows;
    if (env.mode === 'local') {
      const result = await env.sourcePool.query(`SELECT count(*)::int AS n FROM ${load.table}`);
      n = Number(result.rows[0]?.n);
    }
    figures.push({
      zone: 'warehouse',
      table: load.table.replaceAll('"', ''),
      rows: n,
      files: load.files,
      bytes: load.bytes,
    });
  }
  return figures;
}

/**
 * Add this run's Iceberg snapshot counts to the history in `<out>/quickstart.json` and return
 * the whole history (a hive run adds nothing). Runs of other days or folders are not mixed:
 * the history lives with the lake it describes.
 */
async function recordSnapshots(out: string, tables: readonly TableFigure[]): Promise<SnapshotHistoryRun[]> {
  const state = (await readState(out)) ?? {};
  const history = Array.isArray(state.snapshotHistory) ? state.snapshotHistory : [];
  const iceberg = tables.filter((t) => t.format === 'iceberg');
  if (iceberg.length === 0) return history;
  history.push({
    at: new Date().toISOString(),
    tables: iceberg.map((t) => ({
      zone: t.zone,
      table: t.table,
      snapshots: t.snapshots ?? 0,
      snapshotId: t.snapshotId ?? '',
    })),
  });
  await writeState(out, { ...state, snapshotHistory: history });
  return history;
}

async function countLines(body: Promise<AsyncIterable<Uint8Array>>): Promise<number> {
  let lines = 0;
  let last = 0x0a;
  for await (const chunk of await body) {
    for (const byte of chunk) if (byte === 0x0a) lines++;
    if (chunk.length > 0) last = chunk[chunk.length - 1] as number;
  }
  return last === 0x0a ? lines : lines + 1;
}

// ---------------------------------------------------------------------------------------------
// report
// ---------------------------------------------------------------------------------------------

async function reportData(
  env: PipelineEnvironment,
  result: QuickstartResult,
  day: string,
  signal?: AbortSignal,
): Promise<ReportData> {
  const sql = sqlOf(result.tableFormat);
  const series: SensorSeries[] = [];
  for (const type of builtInSensorTypes) {
    const [first] = await rows(
      env,
      `SELECT min(sensorid) AS sensor_id FROM sensors WHERE type = ? AND ${sql.sensorsDay}`,
      [type.name, day],
      signal,
    );
    if (first?.sensor_id === null || first?.sensor_id === undefined) continue;
    const readings = await rows(
      env,
      `SELECT "timestamp" AS t, value FROM sensors WHERE sensorid = ? AND ${sql.sensorsDay} ORDER BY "timestamp", id`,
      [String(first.sensor_id), day],
      signal,
    );
    series.push({
      type: type.name,
      unit: type.unit,
      sensorId: String(first.sensor_id),
      range: { min: type.range.min, max: type.range.max },
      points: readings.map((r) => {
        const value = num(r.value);
        return {
          t: (r.t as Date).toISOString(),
          value,
          anomaly: value < type.range.min || value > type.range.max,
        };
      }),
    });
  }
  const hourly: HourlyAggregate[] = (
    await rows(
      env,
      `SELECT * FROM sensor_hourly WHERE CAST(dt AS varchar) = ? ORDER BY hour, type`,
      [day],
      signal,
    )
  ).map((r) => ({
    dt: String(r.dt),
    hour: num(r.hour),
    type: String(r.type),
    unit: String(r.unit),
    count: num(r.count),
    min: num(r.min),
    max: num(r.max),
    mean: num(r.mean),
    p95: r.p95 === null ? null : num(r.p95),
    anomalies: num(r.anomalies),
  }));

  const top = result.queries.topCoins.slice(0, 5);
  const prices: CoinPriceSeries[] = [];
  for (const coin of top) {
    const points = await rows(
      env,
      `SELECT q.last_updated AS t, q.price AS price FROM quote q JOIN cryptocurrency c ON c.id = q.cryptocurrency_id
        WHERE c.symbol = ? AND q.convert = ? AND q.price IS NOT NULL ORDER BY q.last_updated`,
      [coin.symbol, 'USD'],
      signal,
    );
    prices.push({
      symbol: coin.symbol,
      name: coin.name,
      points: points.map((p) => ({ t: (p.t as Date).toISOString(), price: num(p.price) })),
    });
  }
  const caps = await rows(
    env,
    `SELECT c.symbol AS symbol, d.market_cap AS market_cap
       FROM coin_daily d JOIN cryptocurrency c ON c.id = d.cryptocurrency_id
      WHERE d.convert = ? AND d.market_cap IS NOT NULL
        AND ${sql.coinDay('d.')} = (SELECT max(${sql.coinDay('')}) FROM coin_daily)
      ORDER BY d.rank`,
    ['USD'],
    signal,
  );
  const total = caps.reduce((n, r) => n + num(r.market_cap), 0);
  const shares = caps
    .slice(0, 10)
    .map((r) => ({ symbol: String(r.symbol), share: total > 0 ? num(r.market_cap) / total : 0 }));
  shares.push({ symbol: 'Other', share: Math.max(0, 1 - shares.reduce((n, s) => n + s.share, 0)) });

  return {
    title: 'tributary demo',
    generatedAt: new Date().toISOString(),
    run: {
      mode: result.mode,
      engine: result.engine,
      seed: result.seed,
      records: result.records,
      sensorsPerType: result.sensorsPerType,
      out: result.out,
      seconds: result.seconds,
    },
    sensors: { series, hourly },
    coins: { prices, marketCapShares: shares },
    pipeline: {
      stages: result.stages,
      tables: result.tables,
      ...(result.snapshotHistory.length > 0 ? { snapshotHistory: result.snapshotHistory } : {}),
    },
  };
}

async function writeReport(
  env: PipelineEnvironment,
  result: QuickstartResult,
  day: string,
  signal?: AbortSignal,
): Promise<QuickstartResult['report']> {
  const data = await reportData(env, result, day, signal);
  const path = join(result.out, 'report.html');
  await writeReportFile(path, data);
  return { path };
}

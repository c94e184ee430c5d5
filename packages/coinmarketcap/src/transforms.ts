import { type OptionChecks, OptionsError, optionChecks } from '@tributary/core';
import {
  byDay,
  byField,
  checkIcebergCatalog,
  checkTableFormat,
  type IcebergCatalog,
  type LakeTableFormat,
  listDatasetFiles,
  type PartitionSpec,
  parsePartitions,
  readDataset,
  type Storage,
  scanIceberg,
  type TableFormatOptions,
  tableFormatOptions,
  writeDataset,
} from '@tributary/lake';
import { coinDays, marketDay } from './curated-figures.js';
import {
  type CoinDailyRow,
  coinDailySchema,
  type MarketDailyRow,
  marketDailySchema,
} from './curated-schemas.js';
import { type DmsFileLayout, resolveDmsLayout } from './dms-layout.js';
import { replayExport } from './dms-replay.js';
import { CryptoTransformError } from './errors.js';
import { CRYPTO_SCHEMA, cryptocurrencySchema, type QuoteRow, quoteSchema } from './schemas.js';

export { CryptoTransformError };

/** Options of {@link cryptoRawToProcessed}. */
export interface CryptoRawToProcessedOptions {
  /** The raw zone that `exportTables` wrote to. */
  raw: Storage;
  /** The processed zone. */
  processed: Storage;
  /** The PostgreSQL schema the export came from. Default {@link CRYPTO_SCHEMA}. */
  schema?: string;
  /** The export's prefix in the raw zone. Default `coinmarketcap/`. */
  prefix?: string;
  /** The file format of `exportTables`' files. Default `csv`. Ignored when `dms` is given. */
  format?: 'csv' | 'parquet';
  /**
   * The raw zone was written by a real AWS DMS task: its S3 target endpoint's settings (the same
   * object given to `createDmsS3TargetEndpointInput`). Without it, the files are read as
   * `exportTables` writes them.
   */
  dms?: DmsFileLayout;
  /**
   * The processed tables' format: `hive` (the default, as the lake's) or `iceberg`. An Iceberg
   * `coinmarketcap/cryptocurrency` is unpartitioned and each run replaces it whole in one
   * `overwrite` snapshot: the replay yields the complete latest state every run and the table is
   * small (one row per coin), so a copy-on-write of touched partitions would need a partitioning
   * the table lacks and would save nothing. An Iceberg `coinmarketcap/quote` is partitioned by
   * `day(last_updated)` (partition field `last_updated_day`) and written with `overwrite_partitions`.
   */
  tableFormat?: LakeTableFormat;
  /**
   * Iceberg: the processed zone's catalog. Default: the zone's own `StorageCatalog`; in aws mode a
   * `GlueIcebergCatalog` (`@tributary/lake/glue`) over the processed zone's storage.
   */
  catalog?: IcebergCatalog;
}

/** What {@link cryptoRawToProcessed} wrote. */
export interface CryptoRawToProcessedResult {
  readonly cryptocurrencies: number;
  readonly quotes: number;
  /**
   * Partitions of the quote table written: `dt=YYYY-MM-DD/` (hive), `last_updated_day=YYYY-MM-DD/`
   * (Iceberg).
   */
  readonly partitions: readonly string[];
  /** The processed tables' format. */
  readonly tableFormat: LakeTableFormat;
  /**
   * Iceberg: the snapshot each write committed (a 63-bit id as decimal text), by table
   * (`coinmarketcap/cryptocurrency`, `coinmarketcap/quote`). Empty for hive.
   */
  readonly snapshotIds: Readonly<Record<string, string>>;
}

/** Options of {@link cryptoProcessedToCurated}. */
export interface CryptoProcessedToCuratedOptions {
  processed: Storage;
  curated: Storage;
  /** The convert currency of the quotes to aggregate. Default `USD`. */
  convert?: string;
  /**
   * The format of the quote table read and of the curated tables written: `hive` (the default, as
   * the lake's) or `iceberg`. Iceberg curated tables are partitioned by
   * {@link CRYPTO_CURATED_PARTITIONS} (identity `dt` from `date`, identity `convert`) and written
   * with `overwrite_partitions`; the quote table is read at one snapshot.
   */
  tableFormat?: LakeTableFormat;
  /**
   * Iceberg: the curated zone's catalog (the tables written). Default: the zone's own
   * `StorageCatalog`; in aws mode a `GlueIcebergCatalog` over the curated zone's storage.
   */
  catalog?: IcebergCatalog;
  /**
   * Iceberg: the processed zone's catalog (the quote table read). Default: the zone's own
   * `StorageCatalog`; in aws mode a `GlueIcebergCatalog` over the processed zone's storage.
   */
  processedCatalog?: IcebergCatalog;
}

/** What {@link cryptoProcessedToCurated} wrote. */
export interface CryptoProcessedToCuratedResult {
  readonly coinDays: number;
  readonly days: readonly string[];
  /** The format of the tables read and written. */
  readonly tableFormat: LakeTableFormat;
  /**
   * Iceberg: the snapshot each write committed (decimal text), by table (`coin_daily`,
   * `market_daily`). Empty for hive, and when there was nothing to write.
   */
  readonly snapshotIds: Readonly<Record<string, string>>;
  /** Iceberg: the quote table's snapshot that every day was read from (decimal text). */
  readonly quoteSnapshotId?: string;
}

/**
 * The processed zone's table of the latest state per cryptocurrency.
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * for await (const coin of readDataset({ storage: lake.processed, table: PROCESSED_CRYPTOCURRENCY_TABLE, schema: cryptocurrencySchema })) {
 *   console.log(coin.id, coin.symbol, coin.cmc_rank);
 * }
 * ```
 */
export const PROCESSED_CRYPTOCURRENCY_TABLE = 'coinmarketcap/cryptocurrency';
/**
 * The processed zone's quote history, partitioned `dt=YYYY-MM-DD/` (hive) or by
 * `day(last_updated)`, partition field {@link QUOTE_DAY_PARTITION} (Iceberg).
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * const quotes = readDataset({ storage: lake.processed, table: PROCESSED_QUOTE_TABLE, schema: quoteSchema, partitions: { dt: '2026-01-01' } });
 * for await (const quote of quotes) console.log(quote.cryptocurrency_id, quote.last_updated, quote.price);
 * ```
 */
export const PROCESSED_QUOTE_TABLE = 'coinmarketcap/quote';
/**
 * The partition field of an Iceberg quote table: `day(last_updated)`, values `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * const quotes = readDataset({ storage: lake.processed, table: PROCESSED_QUOTE_TABLE, schema: quoteSchema, tableFormat: 'iceberg', partitions: { [QUOTE_DAY_PARTITION]: '2026-01-01' } });
 * for await (const quote of quotes) console.log(quote.cryptocurrency_id, quote.price);
 * ```
 */
export const QUOTE_DAY_PARTITION = 'last_updated_day';
/**
 * The curated zone's daily table per coin ({@link coinDailySchema}).
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * for await (const day of readDataset({ storage: lake.curated, table: COIN_DAILY_TABLE, schema: coinDailySchema })) {
 *   console.log(day.date, day.cryptocurrency_id, day.close);
 * }
 * ```
 */
export const COIN_DAILY_TABLE = 'coin_daily';
/**
 * The curated zone's daily market table ({@link marketDailySchema}).
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * for await (const day of readDataset({ storage: lake.curated, table: MARKET_DAILY_TABLE, schema: marketDailySchema })) {
 *   console.log(day.date, day.convert, day.total_market_cap);
 * }
 * ```
 */
export const MARKET_DAILY_TABLE = 'market_daily';

/**
 * How the curated crypto tables (`coin_daily`, `market_daily`) are partitioned: `dt=<date>/convert=<currency>/`
 * — convert under dt, so that a run for EUR never overwrites the USD rows of the same days. Pass it
 * as `partitionBy` to read these tables when another engine (the Spark jobs) wrote them.
 *
 * @example
 * ```ts
 * import { readDataset } from '@tributary/lake';
 *
 * // A table the Spark job wrote has no manifest to say how it is partitioned.
 * const days = readDataset({ storage: lake.curated, table: COIN_DAILY_TABLE, schema: coinDailySchema, partitionBy: CRYPTO_CURATED_PARTITIONS });
 * for await (const day of days) console.log(day.date, day.convert, day.close);
 * ```
 */
export const CRYPTO_CURATED_PARTITIONS: readonly PartitionSpec[] = Object.freeze([
  byField('date', 'dt'),
  byField('convert'),
]);
const CURATED_PARTITIONS = CRYPTO_CURATED_PARTITIONS;

function isStorage(value: unknown): value is Storage {
  const s = value as Partial<Storage> | null | undefined;
  return !!s && typeof s.put === 'function' && typeof s.list === 'function';
}

function checkStorage(check: OptionChecks, option: string, value: unknown): Storage {
  if (!isStorage(value)) throw check.invalid(option, value, 'a lake Storage');
  return value;
}

/**
 * The lake options of a table on `storage`: the checked table format, and the Iceberg catalog
 * given as `option`, which must catalog that storage (the lake would refuse another's mid-run).
 */
function lakeFormat(
  check: OptionChecks,
  tableFormat: LakeTableFormat,
  option: string,
  catalog: unknown,
  storage: Storage,
): TableFormatOptions {
  return tableFormatOptions({
    tableFormat,
    catalog: checkIcebergCatalog(check, option, catalog, { tableFormat, storage }),
  });
}

/** `{ table: snapshotId }` of the Iceberg writes made (none for hive). */
function snapshotsOf(writes: Record<string, { snapshotId?: string }>): Readonly<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const [table, result] of Object.entries(writes)) {
    if (result.snapshotId !== undefined) ids[table] = result.snapshotId;
  }
  return Object.freeze(ids);
}

async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof CryptoTransformError) throw error;
    throw new CryptoTransformError(`${what} failed`, { code: 'CMC_TRANSFORM_FAILED', cause: error });
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Build the processed zone from the export in the raw zone (`exportTables`' files, or a real AWS
 * DMS task's with `dms`): replay each table's LOAD then CDC files by primary key, and write `coinmarketcap/cryptocurrency/` (the latest state, one
 * Parquet dataset, `overwrite`) and `coinmarketcap/quote/dt=YYYY-MM-DD/` (the quote history by
 * the UTC day of `last_updated`, `overwrite_partitions`). Rows are written in primary-key order,
 * so running it again gives the same rows. The replay holds one table in memory at a time.
 *
 * With `tableFormat: 'iceberg'` both are Iceberg tables: the latest state is replaced whole by one
 * `overwrite` snapshot per run (the replay yields the complete state and the table is small and
 * unpartitioned, so a copy-on-write of touched partitions would save nothing), and the quote
 * history is partitioned by `day(last_updated)` with `overwrite_partitions`. Each run adds one
 * snapshot per table and leaves the same rows; `snapshotIds` holds them.
 *
 * @example
 * ```ts
 * const result = await cryptoRawToProcessed({ raw: lake.raw, processed: lake.processed, tableFormat: 'iceberg' });
 * console.log(result.quotes, result.partitions, result.snapshotIds[PROCESSED_QUOTE_TABLE]);
 * ```
 */
export async function cryptoRawToProcessed(
  options: CryptoRawToProcessedOptions,
): Promise<CryptoRawToProcessedResult> {
  const check = optionChecks('cryptoRawToProcessed', 'CMC_TRANSFORM_OPTIONS_INVALID');
  check.object('options', options);
  const raw = checkStorage(check, 'raw', options.raw);
  const processed = checkStorage(check, 'processed', options.processed);
  if (options.dms !== undefined) {
    try {
      resolveDmsLayout(options.dms, 'cryptoRawToProcessed');
    } catch (error) {
      throw new OptionsError(`cryptoRawToProcessed option dms: ${(error as Error).message}`, {
        code: 'CMC_TRANSFORM_OPTIONS_INVALID',
        option: 'dms',
        cause: error,
      });
    }
  }
  const tableFormat = checkTableFormat(check, options.tableFormat);
  const o = Object.freeze({
    raw,
    processed,
    schema: options.schema ?? CRYPTO_SCHEMA,
    prefix: options.prefix ?? 'coinmarketcap/',
    format: options.format ?? 'csv',
    dms: options.dms,
    lake: lakeFormat(check, tableFormat, 'catalog', options.catalog, processed),
  });
  const replay = {
    schema: o.schema,
    prefix: o.prefix,
    format: o.format,
    ...(o.dms === undefined ? {} : { dms: o.dms }),
  } as const;

  const coins = await step('replaying cryptocurrency', () => replayExport(o.raw, 'cryptocurrency', replay));
  const coinRows = [...coins.values()].sort((a, b) => (a.id as number) - (b.id as number));
  const coinResult = await step('writing processed cryptocurrency', () =>
    writeDataset(coinRows, {
      storage: o.processed,
      table: PROCESSED_CRYPTOCURRENCY_TABLE,
      schema: cryptocurrencySchema,
      format: 'parquet',
      mode: 'overwrite',
      invalid: 'return',
      ...o.lake,
    }),
  );
  coins.clear();

  const quotes = await step('replaying quote', () => replayExport(o.raw, 'quote', replay));
  const quoteRows = [...quotes.values()] as QuoteRow[];
  quotes.clear();
  quoteRows.sort(
    (a, b) =>
      a.last_updated.getTime() - b.last_updated.getTime() ||
      a.cryptocurrency_id - b.cryptocurrency_id ||
      compareText(a.convert, b.convert),
  );
  const quoteResult = await step('writing processed quote', () =>
    writeDataset(quoteRows, {
      storage: o.processed,
      table: PROCESSED_QUOTE_TABLE,
      schema: quoteSchema,
      partitionBy: byDay('last_updated'),
      format: 'parquet',
      mode: 'overwrite_partitions',
      invalid: 'return',
      ...o.lake,
    }),
  );
  const invalidCount = coinResult.invalidCount + quoteResult.invalidCount;
  if (invalidCount > 0) {
    throw new CryptoTransformError(`${invalidCount} replayed rows do not fit their schema`, {
      code: 'CMC_TRANSFORM_INVALID',
      context: { invalid: invalidCount },
    });
  }
  return Object.freeze({
    cryptocurrencies: coinResult.rows,
    quotes: quoteResult.rows,
    partitions: Object.freeze([...quoteResult.partitions].sort()),
    tableFormat: o.lake.tableFormat,
    snapshotIds: snapshotsOf({
      [PROCESSED_CRYPTOCURRENCY_TABLE]: coinResult,
      [PROCESSED_QUOTE_TABLE]: quoteResult,
    }),
  });
}

/**
 * Build the curated zone from the processed quote history: `coin_daily/dt=YYYY-MM-DD/` (open,
 * high, low, close of the day's price snapshots; volume, market cap and dominance of the last
 * snapshot; rank by closing market cap and its change since the previous day) and
 * `market_daily/dt=YYYY-MM-DD/` (exact totals, coin count, top coin's dominance, top gainer and
 * loser by close over open). Decimal figures are computed on 18-digit scaled BigInts, never
 * floats. Reads one day partition at a time; writes `dt=…/convert=…/` partitions with
 * `overwrite_partitions`, so each convert currency is curated by its own run.
 *
 * With `tableFormat: 'iceberg'` the quote table is an Iceberg table read at one snapshot: its
 * current snapshot is pinned when the run starts and every day is read from it, so a writer that
 * commits meanwhile cannot give the run a mix of two snapshots (`quoteSnapshotId` names it). The
 * curated tables are Iceberg tables partitioned by {@link CRYPTO_CURATED_PARTITIONS}, one
 * `overwrite_partitions` snapshot each per run (`snapshotIds`). A missing Iceberg quote table
 * fails the run (`CMC_TRANSFORM_FAILED`).
 *
 * @example
 * ```ts
 * const { days, snapshotIds } = await cryptoProcessedToCurated({ processed: lake.processed, curated: lake.curated, tableFormat: 'iceberg' });
 * console.log(days, snapshotIds[COIN_DAILY_TABLE]);
 * ```
 */
export async function cryptoProcessedToCurated(
  options: CryptoProcessedToCuratedOptions,
): Promise<CryptoProcessedToCuratedResult> {
  const check = optionChecks('cryptoProcessedToCurated', 'CMC_TRANSFORM_OPTIONS_INVALID');
  check.object('options', options);
  const processed = checkStorage(check, 'processed', options.processed);
  const curated = checkStorage(check, 'curated', options.curated);
  const tableFormat = checkTableFormat(check, options.tableFormat);
  const o = Object.freeze({
    processed,
    curated,
    convert: check.nonEmptyString('convert', options.convert ?? 'USD'),
    read: lakeFormat(check, tableFormat, 'processedCatalog', options.processedCatalog, processed),
    write: lakeFormat(check, tableFormat, 'catalog', options.catalog, curated),
  });

  const source = await step('listing processed quote', () => quoteDays(o.processed, o.read));
  const coinRows: CoinDailyRow[] = [];
  const marketRows: MarketDailyRow[] = [];
  let previousRank = new Map<number, number>();
  for (const date of source.days) {
    const quotes: QuoteRow[] = [];
    await step(`reading processed quote ${source.partition}=${date}`, async () => {
      for await (const q of readDataset({
        storage: o.processed,
        table: PROCESSED_QUOTE_TABLE,
        schema: quoteSchema,
        partitions: { [source.partition]: date },
        ...o.read,
        ...(source.snapshotId === undefined ? {} : { snapshotId: source.snapshotId }),
      })) {
        if (q.convert === o.convert) quotes.push(q);
      }
    });
    if (quotes.length === 0) continue;
    quotes.sort((a, b) => a.last_updated.getTime() - b.last_updated.getTime());
    const { rows, order } = coinDays(date, o.convert, quotes, previousRank);
    previousRank = new Map(rows.map((r) => [r.cryptocurrency_id, r.rank]));
    coinRows.push(...rows);
    marketRows.push(marketDay(date, o.convert, rows, order));
  }
  const written: Record<string, { snapshotId?: string }> = {};
  if (coinRows.length > 0) {
    written[COIN_DAILY_TABLE] = await step('writing curated coin_daily', () =>
      writeDataset(coinRows, {
        storage: o.curated,
        table: COIN_DAILY_TABLE,
        schema: coinDailySchema,
        partitionBy: CURATED_PARTITIONS,
        format: 'parquet',
        mode: 'overwrite_partitions',
        ...o.write,
      }),
    );
    written[MARKET_DAILY_TABLE] = await step('writing curated market_daily', () =>
      writeDataset(marketRows, {
        storage: o.curated,
        table: MARKET_DAILY_TABLE,
        schema: marketDailySchema,
        partitionBy: CURATED_PARTITIONS,
        format: 'parquet',
        mode: 'overwrite_partitions',
        ...o.write,
      }),
    );
  }
  return Object.freeze({
    coinDays: coinRows.length,
    days: Object.freeze(marketRows.map((r) => r.date)),
    tableFormat: o.write.tableFormat,
    snapshotIds: snapshotsOf(written),
    ...(source.snapshotId === undefined ? {} : { quoteSnapshotId: source.snapshotId }),
  });
}

/**
 * The quote table's days and the partition that holds each: a hive table's `dt` partitions, or an
 * Iceberg table's `last_updated_day` values at its current snapshot, with that snapshot's id so
 * that every day is read from the same one.
 */
async function quoteDays(
  processed: Storage,
  lake: TableFormatOptions,
): Promise<{ days: string[]; partition: string; snapshotId?: string }> {
  if (lake.tableFormat === 'hive') {
    const files = await listDatasetFiles(processed, PROCESSED_QUOTE_TABLE);
    const days = new Set(files.map((f) => parsePartitions(f.key).dt).filter((d): d is string => !!d));
    return { days: [...days].sort(), partition: 'dt' };
  }
  const scan = await scanIceberg({ storage: processed, table: PROCESSED_QUOTE_TABLE, ...lake });
  const days = new Set<string>();
  for (const file of scan.files) {
    const day = file.partition[QUOTE_DAY_PARTITION];
    if (typeof day !== 'string') {
      throw new CryptoTransformError(
        `${file.key} of ${PROCESSED_QUOTE_TABLE} has no ${QUOTE_DAY_PARTITION} partition: the table must be partitioned by day(last_updated)`,
        { code: 'CMC_TRANSFORM_FAILED', context: { table: PROCESSED_QUOTE_TABLE, key: file.key } },
      );
    }
    days.add(day);
  }
  return {
    days: [...days].sort(),
    partition: QUOTE_DAY_PARTITION,
    ...(scan.snapshot ? { snapshotId: String(scan.snapshot['snapshot-id']) } : {}),
  };
}
